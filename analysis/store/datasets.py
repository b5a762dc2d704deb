"""The files of one dataset folder, ``data/<name>/``: the one place that names them.

Images live in a folder per class; beside them the image table (the single source of
truth), its lock, the rejects of every import, the class → group overrides, the demo's
cue annotations and masks, the curation log, and the curation scores with the model
outputs they come from.
"""

from __future__ import annotations

import os
from pathlib import Path

from analysis.store.files import Folder

CLASSES_FILE = "classes.toml"
"""Class → group overrides; also read at the root of an import's source folder."""


def default_data_root() -> Path:
    """Where named datasets live: ``$STREETLENS_DATA`` or ``./data``."""
    return Path(os.environ.get("STREETLENS_DATA", "data"))


class DatasetFiles(Folder):
    """Paths inside a dataset folder; creating one touches nothing on disk."""


    @property
    def table(self) -> Path:
        return self.root / "dataset.parquet"

    @property
    def lock(self) -> Path:
        return self.root / "dataset.parquet.lock"

    @property
    def fingerprint_memo(self) -> Path:
        """The usable rows' fingerprint, remembered for one state of the table."""
        return self.root / "dataset.parquet.fingerprint.json"

    @property
    def rejects(self) -> Path:
        return self.root / "rejects.parquet"

    @property
    def classes(self) -> Path:
        return self.root / CLASSES_FILE

    @property
    def annotations(self) -> Path:
        """Demo data: one row per cue instance (image, cue, classes it signals, box)."""
        return self.root / "annotations.parquet"

    @property
    def masks(self) -> Path:
        """Demo data: the cue masks, packed bits."""
        return self.root / "masks.npz"

    @property
    def curation_log(self) -> Path:
        return self.root / "curation_log.jsonl"

    @property
    def scores(self) -> Path:
        """Curation scores, one small row per image (what the Curate page reads)."""
        return self.root / "scores.parquet"

    @property
    def score_arrays(self) -> Path:
        """The scene classifier's outputs the scores come from, keyed by image id."""
        return self.root / "scores.npz"

    @property
    def sheets(self) -> Path:
        """Contact sheets, one picture per class."""
        return self.root / "sheets"

    def sheet(self, cls: str, folder: Path | None = None) -> Path:
        return Path(folder or self.sheets) / f"{cls}.png"

    @staticmethod
    def all_in(data_root: Path | str) -> list["DatasetFiles"]:
        """Every dataset folder under ``data_root`` (one with an image table), by name."""
        return [DatasetFiles(p.parent) for p in sorted(Path(data_root).glob(f"*/{DatasetFiles('.').table.name}"))]


SOURCES_LOG = "sources.jsonl"
"""Beside a crawl's staged downloads: one JSON line per saved file (file, URL, query)."""
