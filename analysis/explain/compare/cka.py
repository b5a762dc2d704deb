"""Linear CKA (Kornblith et al., 2019): how similar two representations of the same
images are, invariant to rotation and isotropic scaling, 1 for the same representation."""

from __future__ import annotations

import numpy as np


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """CKA of (N, P) and (N, Q) features of the same N images (columns centred here):
    ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(f"CKA needs features of the same images: {x.shape} vs {y.shape}")
    x = x - x.mean(0)
    y = y - y.mean(0)
    cross = np.linalg.norm(y.T @ x) ** 2
    norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norm) if norm > 0 else float("nan")
