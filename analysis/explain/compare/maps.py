"""Where two models look on the same image: the rank correlation of their maps."""

from __future__ import annotations

import numpy as np


def _resize(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A (h, w) map brought to ``shape`` by bilinear interpolation (maps of two backbones
    differ in resolution: 7×7 vs 14×14)."""
    if m.shape == tuple(shape):
        return m
    import torch
    import torch.nn.functional as F

    t = torch.as_tensor(np.ascontiguousarray(m), dtype=torch.float32)[None, None]
    return F.interpolate(t, size=shape, mode="bilinear", align_corners=False)[0, 0].numpy()


def map_correlations(maps_a: np.ndarray, maps_b: np.ndarray) -> np.ndarray:
    """(N,) Spearman rank correlation of each image's two maps ((N, h, w) each, any two
    resolutions: both are brought to the larger). NaN where a map is constant. (scipy is
    imported here: at the top it cost the Sample page 0.9 s on every fresh server.)"""
    from scipy.stats import spearmanr

    a, b = np.asarray(maps_a, dtype=np.float64), np.asarray(maps_b, dtype=np.float64)
    if len(a) != len(b):
        raise ValueError(f"maps of the same images needed: {len(a)} vs {len(b)}")
    shape = max(a.shape[1:], b.shape[1:], key=lambda s: s[0] * s[1])
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        x, y = _resize(a[i], shape).ravel(), _resize(b[i], shape).ravel()
        if np.ptp(x) > 0 and np.ptp(y) > 0:
            out[i] = spearmanr(x, y).statistic
    return out
