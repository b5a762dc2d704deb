"""Views of stored raw Grad-CAM maps: pure functions on (..., K, h, w) arrays (numpy arrays,
memmaps or tensors), computed by :mod:`analysis.explain.gradcam` and read by the dashboard.

Kept apart from ``gradcam`` because that module needs PyTorch and the dashboard, which only
reads stored maps, should not import it (3–7 s on a fresh server). For the same reason the
dashboard's resize and normalisation of a map are numpy here (``display_array``), tested
equal to ``gradcam.display_map``, which pytorch-grad-cam's output is the oracle of; so is
the percentile scaling of any stored map (``to_display_array``, tested equal to
``scaling.to_display``), which the Sample page applies to pixel-level maps."""

from __future__ import annotations

import numpy as np

NORMALISE_EPS = 1e-7


def _k_index(raw, k: int) -> None:
    if raw.ndim < 3:
        raise ValueError(f"raw must be (..., K, h, w), got shape {tuple(raw.shape)}")
    if not -raw.shape[-3] <= k < raw.shape[-3]:
        raise IndexError(f"output {k} out of range for {raw.shape[-3]} outputs")


def gradcam_map(raw, k: int):
    """Grad-CAM of output ``k``: ReLU(raw[..., k, :, :]) → (..., h, w)."""
    _k_index(raw, k)
    return raw[..., k, :, :].clip(min=0)


def contrastive_map(raw, a: int, b: int):
    """"Why ``a`` rather than ``b``": ReLU(raw_a − raw_b) = Grad-CAM with weights α_a − α_b."""
    _k_index(raw, a)
    _k_index(raw, b)
    return (raw[..., a, :, :] - raw[..., b, :, :]).clip(min=0)


def normalise_array(m) -> np.ndarray:
    """Min-max per map over the last two axes, as pytorch-grad-cam's ``scale_cam_image``:
    ``m' = m − min(m);  m' / (1e-7 + max(m'))``; an all-zero map stays zero."""
    m = np.asarray(m)
    m = m.astype(np.promote_types(m.dtype, np.float32), copy=False)  # float16 memmaps
    m = m - m.min(axis=(-2, -1), keepdims=True)
    return m / (NORMALISE_EPS + m.max(axis=(-2, -1), keepdims=True))


def _bilinear_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of a 1-D bilinear resize with half-pixel centres, no
    antialiasing and clamped edges (``F.interpolate(align_corners=False)``, cv2's INTER_LINEAR)."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    w = np.zeros((n_out, n_in), np.float64)
    np.add.at(w, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(w, (np.arange(n_out), hi), frac)
    return w


def resize_bilinear(m, size: int | tuple[int, int]) -> np.ndarray:
    """(..., h, w) maps resized to ``size`` (H, W), float32: the sampling of
    ``scaling.upsample`` as two small matrix products, without PyTorch."""
    m = np.asarray(m, dtype=np.float32)
    size = (size, size) if isinstance(size, int) else tuple(size)
    rows = _bilinear_weights(m.shape[-2], size[0]).astype(np.float32)
    cols = _bilinear_weights(m.shape[-1], size[1]).astype(np.float32)
    return np.matmul(np.matmul(rows, m), cols.T)


def display_array(m, size: int | tuple[int, int]) -> np.ndarray:
    """``gradcam.display_map`` for numpy maps: normalise, resize to the photo, normalise."""
    return normalise_array(resize_bilinear(normalise_array(m), size)).astype(np.float32)


def to_display_array(maps, signed: bool = False, percentile: float = 99.0) -> np.ndarray:
    """``scaling.to_display`` for numpy (H, W) or (N, H, W) maps, float32: each map divided
    by the ``percentile``-th percentile of its |values| (their max when that is 0, else 1)
    and clipped, keeping the sign in [-1, 1] (``signed``) or as magnitude in [0, 1]."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    m = np.asarray(maps, dtype=np.float32)
    if m.ndim not in (2, 3):
        raise ValueError(f"maps must be (H, W) or (N, H, W), got {tuple(m.shape)}")
    a = np.abs(m)
    scale = np.percentile(a, percentile, axis=(-2, -1), keepdims=True)
    scale = np.where(scale > 0, scale, a.max(axis=(-2, -1), keepdims=True))
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    out = np.clip(m / scale, -1.0, 1.0) if signed else np.clip(a / scale, 0.0, 1.0)
    return out.astype(np.float32, copy=False)
