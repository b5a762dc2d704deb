"""The files of one trained run, ``models/<run>/``: the one place that names them.

``model.pt`` holds a plain state dict (loaded with ``weights_only=True``: nothing is
unpickled), ``run.json`` the config, labels, dataset fingerprint and metrics, and
``history.csv`` one row per epoch. A run folder without ``run.json`` is not a run.
"""

from __future__ import annotations

import os
from pathlib import Path

from analysis.store.files import Folder

_MODEL, _INFO, _HISTORY = "model.pt", "run.json", "history.csv"


def default_models_root() -> Path:
    return Path(os.environ.get("STREETLENS_MODELS", "models"))


class RunFiles(Folder):
    """Paths inside a run folder; creating one touches nothing on disk."""


    @property
    def model(self) -> Path:
        return self.root / _MODEL

    @property
    def info(self) -> Path:
        return self.root / _INFO

    @property
    def history(self) -> Path:
        return self.root / _HISTORY

    def is_run(self) -> bool:
        return self.info.is_file()

    @staticmethod
    def all_in(models_root: Path | str) -> list["RunFiles"]:
        """Every run folder under ``models_root`` (sorted by name)."""
        return [RunFiles(p.parent) for p in sorted(Path(models_root).glob(f"*/{_INFO}"))]
