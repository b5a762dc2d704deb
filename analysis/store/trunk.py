"""The trunk cache, ``cache/trunk/``: frozen layers' outputs computed once per image.

One float16 ``.npy`` memmap per (backbone, weights, frozen prefix, images, views,
precision) key, with a JSON beside it that records the key's parts and the image ids, so a
later stage (the analysis, a transfer run on the same backbone) can tell which rows it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TRUNK_FOLDER = "trunk"


@dataclass(frozen=True)
class TrunkFiles:
    """Paths of the trunk cache under a cache root."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def under(cls, cache_root: Path | str) -> "TrunkFiles":
        return cls(Path(cache_root) / TRUNK_FOLDER)

    def array(self, key: str) -> Path:
        return self.root / f"{key}.npy"

    @staticmethod
    def meta(array: Path) -> Path:
        """The JSON that describes ``array`` (key parts, image ids)."""
        return Path(array).with_suffix(".json")
