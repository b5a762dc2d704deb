"""Each city at a glance: where the model usually looks for it (its mean Grad-CAM) over
what its streets usually look like (its mean photo)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from PIL import Image

from analysis.explain.scaling import normalise


def mean_class_cams(cams, y_class: Sequence[int], correct: Sequence[bool], n_classes: int,
                    chunk: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class k, the mean over the correctly classified images of class k of their
    normalised Grad-CAM for k (ReLU of ``cams[:, k]``, min-max per image, so every image
    counts the same).

    ``cams`` is (N, K, h, w), read in chunks of rows. A class with no correctly classified
    image falls back to all its images. Returns (maps (Kc, h, w) float32, counts (Kc,),
    used_all (Kc,) bool: True where the fallback was taken)."""
    y = np.asarray(y_class)
    ok = np.asarray(correct, dtype=bool)
    h, w = cams.shape[-2:]
    maps = np.zeros((n_classes, h, w), np.float32)
    counts = np.zeros(n_classes, np.int64)
    used_all = np.zeros(n_classes, bool)
    for k in range(n_classes):
        rows = np.flatnonzero((y == k) & ok)
        if not len(rows):
            rows, used_all[k] = np.flatnonzero(y == k), True
        total = np.zeros((h, w), np.float64)
        for a in range(0, len(rows), chunk):
            idx = rows[a:a + chunk]
            m = np.clip(np.asarray(cams[idx, k], dtype=np.float32), 0, None)
            total += normalise(m).sum(0)
        counts[k] = len(rows)
        if len(rows):
            maps[k] = (total / len(rows)).astype(np.float32)
    return maps, counts, used_all


def photo_sample(samples: pd.DataFrame, cls: str, per_class: int = 32, seed: int = 0) -> pd.DataFrame:
    """Up to ``per_class`` correctly classified images of ``cls`` (all of its images when
    none is correct), a seeded sample."""
    rows = samples[(samples["class"] == cls) & samples["correct"]]
    if rows.empty:
        rows = samples[samples["class"] == cls]
    return rows.sample(min(per_class, len(rows)), random_state=seed) if len(rows) else rows


def mean_photo(paths: Sequence, size: int = 128) -> np.ndarray:
    """The pixel mean of some photos, each squeezed to ``size`` × ``size`` (no crop): a
    blurry "average street" whose horizon, road and sky show where a map sits."""
    acc = np.zeros((size, size, 3), np.float64)
    n = 0
    for p in paths:
        try:
            with Image.open(p) as im:
                acc += np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float64)
            n += 1
        except OSError:
            continue
    if not n:
        return np.full((size, size, 3), 200, np.uint8)
    return (acc / n + 0.5).astype(np.uint8)
