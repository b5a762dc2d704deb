"""Occlusion (Zeiler & Fergus, 2014) via captum: grey out / black out a square patch and
watch the target logit drop.

No gradients, so it is immune to gradient saturation and shattering and works with any
model, at the cost of one forward per window position; the sliding window sets the scale
of what it can find (a 32 px window at 224 px ≈ a window or a sign on a facade).
"""
from __future__ import annotations

from typing import Any

from captum.attr import Occlusion
from torch import nn

from analysis.explain.attribution import AttributionMethod, reduce_channels, resolve_baseline
from analysis.explain.registry import register_method
from analysis.nets.registry import MeanStd

REFERENCE_SIZE = 224
REFERENCE_WINDOW = 32
"""Default window at 224 px; scaled with the input's shorter side (stride = half window)."""


def default_window(height: int, width: int) -> tuple[int, int]:
    """(window, stride) for an image: 32 / 16 px at 224 px, proportionally otherwise."""
    window = max(1, min(height, width, round(min(height, width) * REFERENCE_WINDOW / REFERENCE_SIZE)))
    return window, max(1, window // 2)


@register_method("occlusion")
class OcclusionMethod(AttributionMethod):
    """captum ``Occlusion`` with a ``window``×``window`` patch over all three channels moved
    by ``stride`` px, filled with ``baseline`` (default black: pass ``mean_std`` for a
    normalised model, as for integrated gradients).

    Value at a pixel: f(x) − f(x with the patch set to the baseline), averaged over the
    windows covering it; positive = hiding it lowers the target logit (evidence for).
    Channels: the window spans all channels, so every channel holds the same value; the
    map is their mean.
    """

    reduction = "window covers all channels (identical values); mean over channels"

    @classmethod
    def passes(cls, options: dict) -> int:
        return 50  # about: one forward per batch of window positions

    def __init__(self, model: nn.Module, target_layer: Any = None, window: int | None = None,
                 stride: int | None = None, baseline: Any = "black", mean_std: MeanStd | None = None,
                 perturbations_per_eval: int = 16):
        super().__init__(model, target_layer)
        for key, value in (("window", window), ("stride", stride)):
            if value is not None and int(value) < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
        if window is not None and stride is not None and stride > window:
            raise ValueError(f"stride {stride} larger than window {window} would skip pixels")
        if int(perturbations_per_eval) < 1:
            raise ValueError(f"perturbations_per_eval must be >= 1, got {perturbations_per_eval}")
        self.window = window
        self.stride = stride
        self.baseline = baseline
        self.mean_std = mean_std
        self.perturbations_per_eval = int(perturbations_per_eval)

    def window_for(self, height: int, width: int) -> tuple[int, int]:
        """(window, stride) used for an image of this size."""
        window, stride = default_window(height, width)
        if self.window is not None:
            window, stride = int(self.window), max(1, int(self.window) // 2)
        if self.stride is not None:
            stride = int(self.stride)
        if window > min(height, width):
            raise ValueError(f"occlusion window {window} larger than the image ({height}×{width})")
        return window, stride

    def _attribute(self, x, forward, target):
        window, stride = self.window_for(*x.shape[-2:])
        base = resolve_baseline(self.baseline, x, self.mean_std)
        attr = Occlusion(forward).attribute(
            x, sliding_window_shapes=(3, window, window), strides=(3, stride, stride),
            baselines=base, target=target, perturbations_per_eval=self.perturbations_per_eval,
        )
        return reduce_channels(attr, "mean")
