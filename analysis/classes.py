"""Classes (cities) and their coarse groups (East/West).

A dataset is a folder per class. The ten cities of the original study are built in; any
other class needs its group in an optional ``classes.toml`` at the dataset root::

    [groups]
    london_on = "West"
    osaka = "East"

A class named ``<built-in city>_<suffix>`` (``london_uk``, ``london_on``) inherits the
built-in city's group unless ``classes.toml`` says otherwise, so datasets that split a
city by country or district work without a file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from analysis.store import CLASSES_FILE

BUILTIN_GROUPS: dict[str, str] = {
    "london": "West",
    "moscow": "West",
    "nyc": "West",
    "paris": "West",
    "vancouver": "West",
    "beijing": "East",
    "kyoto": "East",
    "seoul": "East",
    "singapore": "East",
    "tokyo": "East",
}



class UnknownClassError(ValueError):
    """A class folder whose group cannot be determined."""


@dataclass(frozen=True)
class GroupSource:
    """Where a class's group came from, so summaries can tell the user."""

    group: str
    source: str  # "built-in", "classes.toml", "inherited from <city>", "--group"


def read_classes_toml(path: Path) -> dict[str, str]:
    """Read the ``[groups]`` table (or top-level ``name = "Group"`` pairs)."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UnknownClassError(f"{path}: not valid TOML ({exc}); fix or delete the file") from exc
    table = data.get("groups", {k: v for k, v in data.items() if isinstance(v, str)})
    bad = {k: v for k, v in table.items() if not isinstance(v, str) or not v.strip()}
    if bad:
        raise UnknownClassError(f"{path}: groups must be non-empty strings, got {bad}")
    return {str(k): str(v) for k, v in table.items()}


def write_classes_toml(path: Path, groups: Mapping[str, str]) -> None:
    """Write the ``[groups]`` table (sorted, so the file diffs cleanly)."""
    lines = ["# class = group (East/West or any coarse grouping)", "[groups]"]
    lines += [f'{name} = "{group}"' for name, group in sorted(groups.items())]
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)


def resolve_group(name: str, overrides: Mapping[str, str]) -> GroupSource | None:
    """The group of one class name, or None when nothing defines it."""
    if name in overrides:
        return GroupSource(overrides[name], CLASSES_FILE)
    if name in BUILTIN_GROUPS:
        return GroupSource(BUILTIN_GROUPS[name], "built-in")
    stem = name.split("_", 1)[0]
    if stem != name and stem in BUILTIN_GROUPS:
        return GroupSource(BUILTIN_GROUPS[stem], f"inherited from {stem}")
    return None


def resolve_groups(
    names: Iterable[str],
    *roots: Path,
    extra: Mapping[str, str] | None = None,
) -> dict[str, GroupSource]:
    """Groups of all class names; ``classes.toml`` files of ``roots`` and ``extra`` win
    over built-ins (later sources win). Raises one clear error naming the folders that
    have no group."""
    overrides: dict[str, str] = {}
    for root in roots:
        overrides.update(read_classes_toml(Path(root) / CLASSES_FILE))
    overrides.update(extra or {})
    out: dict[str, GroupSource] = {}
    missing = []
    for name in names:
        found = resolve_group(name, overrides)
        if found is None:
            missing.append(name)
        else:
            out[name] = found
    if missing:
        where = Path(roots[0]) if roots else Path(".")
        example = missing[0]
        raise UnknownClassError(
            f"class folder(s) {', '.join(repr(m) for m in missing)} have no group: add "
            f'`{example} = "East"` (or "West") under [groups] in {where / CLASSES_FILE}, '
            f"or pass --group {example}=West"
        )
    return out


@dataclass(frozen=True)
class Labels:
    """Class and group vocabularies of a run, in a fixed (sorted) order."""

    classes: tuple[str, ...]
    groups: tuple[str, ...]
    class_to_group: dict[str, str]

    @classmethod
    def from_table(cls, df: pd.DataFrame) -> "Labels":
        mapping = df.groupby("class")["group"].first().to_dict()
        return cls(tuple(sorted(mapping)), tuple(sorted(set(mapping.values()))), mapping)

    @classmethod
    def from_json(cls, data: dict) -> "Labels":
        return cls(tuple(data["classes"]), tuple(data["groups"]), dict(data["class_to_group"]))

    def to_json(self) -> dict:
        return {"classes": list(self.classes), "groups": list(self.groups),
                "class_to_group": self.class_to_group}

    def encode(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Class and group indices of each row."""
        ci = {c: i for i, c in enumerate(self.classes)}
        gi = {g: i for i, g in enumerate(self.groups)}
        return (np.array(df["class"].map(ci), dtype=np.int64),
                np.array(df["class"].map(self.class_to_group).map(gi), dtype=np.int64))
