"""The files of one trained run, ``models/<run>/``: the one place that names them.

``model.pt`` holds a plain state dict (loaded with ``weights_only=True``: nothing is
unpickled), ``run.json`` the config, labels, dataset fingerprint and metrics, and
``history.csv`` one row per epoch, ``predictions.csv`` the final model's predictions on
validation and test (what comparisons across runs pair up). A run folder without ``run.json`` is not a run.
"""

from __future__ import annotations

import os
from pathlib import Path

from analysis.store.files import Folder

_MODEL, _INFO, _HISTORY, _PREDICTIONS = "model.pt", "run.json", "history.csv", "predictions.csv"


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

    @property
    def predictions(self) -> Path:
        return self.root / _PREDICTIONS

    def is_run(self) -> bool:
        return self.info.is_file()

    @staticmethod
    def all_in(models_root: Path | str) -> list["RunFiles"]:
        """Every run folder under ``models_root`` (sorted by name)."""
        return [RunFiles(p.parent) for p in sorted(Path(models_root).glob(f"*/{_INFO}"))]


def experiment_file(models_root: Path | str, name: str) -> Path:
    """Where ``streetlens experiment`` keeps an experiment's grid (``models/experiments/``:
    no ``run.json`` there, so it is never mistaken for a run)."""
    return Path(models_root) / "experiments" / f"{name}.json"


def experiment_files(models_root: Path | str) -> list[Path]:
    return sorted((Path(models_root) / "experiments").glob("*.json"))
