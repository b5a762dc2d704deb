"""Maps made comparable and displayable: one bilinear resize, one min-max normalisation,
one percentile scaling — used by Grad-CAM, the attribution methods, the reliability checks
and the dashboard alike, so a map means the same wherever it is shown."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from analysis.explain.cam_views import NORMALISE_EPS, normalise_array
from analysis.nets.registry import MeanStd



def _as_float_tensor(m) -> tuple[torch.Tensor, bool]:
    if isinstance(m, torch.Tensor):
        return (m if m.is_floating_point() and m.dtype != torch.float16 else m.float()), False
    return torch.from_numpy(np.array(m, dtype=np.float32)), True


def upsample(m, size: int | tuple[int, int]):
    """Bilinear resize of (..., h, w) maps to ``size`` (H, W) — half-pixel centres, no
    antialiasing, edge clamped: the same sampling as pytorch-grad-cam's
    ``cv2.resize(..., INTER_LINEAR)``. numpy in → float32 numpy out."""
    t, was_numpy = _as_float_tensor(m)
    size = (size, size) if isinstance(size, int) else tuple(size)
    lead, (h, w) = t.shape[:-2], t.shape[-2:]
    out = F.interpolate(t.reshape(-1, 1, h, w), size=size, mode="bilinear",
                        align_corners=False, antialias=False).reshape(*lead, *size)
    return out.numpy() if was_numpy else out


def normalise(m):
    """Min-max per image over the last two axes, exactly as pytorch-grad-cam's
    ``scale_cam_image``: ``m' = m − min(m);  m' / (1e-7 + max(m'))`` → [0, 1); an all-zero
    map stays zero."""
    if isinstance(m, torch.Tensor):
        m = m.to(torch.promote_types(m.dtype, torch.float32))
        m = m - m.amin(dim=(-2, -1), keepdim=True)
        return m / (NORMALISE_EPS + m.amax(dim=(-2, -1), keepdim=True))
    return normalise_array(m)


def to_display(maps, signed: bool = False, percentile: float = 99.0):
    """Scale (H, W) or (N, H, W) maps for display, each map on its own (a tensor, or a
    numpy array in → float32 numpy out).

    Divides by the ``percentile``-th percentile of |map| and clips, so a few extreme
    pixels (common in gradients) do not wash out the rest. ``signed=False`` shows
    magnitude in [0, 1] (|map|, for a sequential colour map); ``signed=True`` keeps the
    sign in [-1, 1] (for a diverging one). An all-zero map stays zero.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    if not isinstance(maps, torch.Tensor):
        return to_display(torch.from_numpy(np.asarray(maps, dtype=np.float32)), signed, percentile).numpy()
    squeeze = maps.dim() == 2
    m = maps.detach().float()[None] if squeeze else maps.detach().float()
    if m.dim() != 3:
        raise ValueError(f"maps must be (H, W) or (N, H, W), got {tuple(maps.shape)}")
    flat = m.abs().flatten(1)
    scale = torch.quantile(flat, percentile / 100.0, dim=1)
    scale = torch.where(scale > 0, scale, flat.amax(1))
    scale = torch.where(scale > 0, scale, torch.ones_like(scale)).reshape(-1, 1, 1)
    out = (m / scale).clamp(-1, 1) if signed else (m.abs() / scale).clamp(0, 1)
    return out[0] if squeeze else out


IDENTITY: MeanStd = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def checked_mean_std(mean_std: MeanStd | None) -> MeanStd:
    """A backbone's per-channel (mean, std) — three of each — or, for None, the identity
    (inputs taken as un-normalised, pixel values in [0, 1])."""
    if mean_std is None:
        return IDENTITY
    mean, std = mean_std
    if len(mean) != 3 or len(std) != 3:
        raise ValueError("mean_std must give 3 means and 3 stds")
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)
