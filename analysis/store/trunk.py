"""The trunk cache, ``cache/trunk/``: frozen layers' outputs computed once per image.

One float16 ``.npy`` memmap per (backbone, weights, frozen prefix, images, views,
precision) key, with a JSON beside it that records the key's parts and the image ids, so a
later stage (the analysis, a transfer run on the same backbone) can tell which rows it holds.
"""

from __future__ import annotations

from pathlib import Path

from analysis.store.files import Folder

TRUNK_FOLDER = "trunk"


class TrunkFiles(Folder):
    """Paths of the trunk cache under a cache root."""


    @classmethod
    def under(cls, cache_root: Path | str) -> "TrunkFiles":
        return cls(Path(cache_root) / TRUNK_FOLDER)

    def array(self, key: str) -> Path:
        return self.root / f"{key}.npy"

    @staticmethod
    def meta(array: Path) -> Path:
        """The JSON that describes ``array`` (key parts, image ids)."""
        return Path(array).with_suffix(".json")
