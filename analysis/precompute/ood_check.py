"""The out-of-distribution check of photos outside the dataset (``streetlens predict`` and
the New image page): a run's calibration (stage ``ood``) and its training images' pooled
features, read from the run's cache; and predictions with each photo's verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.explain.embedding import TrainingIndex
from analysis.explain.ood import OodCheck, missing_hint
from analysis.precompute.stages.ood import load_calibration
from analysis.store import RunCache, default_cache_root, file_fingerprint
from analysis.train.runs import Run

NEEDS = ("ood_calibration", "features", "samples")
OOD_COLUMNS = ("ood_score", "ood_threshold", "ood_flagged", "ood_message")


def load_ood_check(cache: RunCache, run: Run | None = None, index: TrainingIndex | None = None
                   ) -> tuple[OodCheck | None, str | None]:
    """``(check, None)``, or ``(None, one line saying how to get it)`` when the cache has no
    calibration or (given ``run``) was computed for another model file. ``index``: the
    training images' index when the caller has it already."""
    if not cache.exists() or not all(cache.has(a) for a in NEEDS):
        return None, missing_hint(cache.name)
    if run is not None and cache.manifest.get("model_fingerprint") != file_fingerprint(run.files.model):
        return None, (f"The analysis of run {run.name} is for another model file (retrained?): re-run "
                      f"`streetlens analyze {run.name} --stages ood` for the out-of-distribution check.")
    index = index or TrainingIndex.from_samples(cache.samples(), cache.features())
    return OodCheck(load_calibration(cache), index), None


@dataclass
class Predictions:
    table: pd.DataFrame  # ``predict_files``' columns, plus OOD_COLUMNS when there is a check
    note: str | None  # one line when there is no check


def predict_with_ood(run: Run, paths: Sequence[Path], top: int = 3, cache_root: Path | None = None
                     ) -> Predictions:
    """Classify image files and check each against the run's calibrated out-of-distribution
    threshold (``ood_flagged``: the photo looks unlike any training photo)."""
    cache = RunCache.for_run(run.name, cache_root or default_cache_root())
    check, note = load_ood_check(cache, run)
    from analysis.train.predict import predict_files  # PyTorch: not for the page that only reads the check

    table = predict_files(run, paths, top=top, pooled=check is not None)
    if check is None or "pooled" not in table:
        return Predictions(table.drop(columns="pooled", errors="ignore"), note)
    verdicts = [check.assess(p) if isinstance(p, np.ndarray) else None for p in table["pooled"]]
    table = table.drop(columns="pooled")
    table["ood_score"] = [v.score if v else np.nan for v in verdicts]
    table["ood_threshold"] = check.calibration.threshold
    table["ood_flagged"] = pd.array([v.flagged if v else pd.NA for v in verdicts], dtype="boolean")
    table["ood_message"] = [v.text if v else None for v in verdicts]
    return Predictions(table, None)
