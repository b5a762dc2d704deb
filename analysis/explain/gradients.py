"""Gradient-based attributions via captum: vanilla gradient (saliency) and integrated
gradients.

Both answer "which pixels does the logit react to?", at pixel resolution. The plain
gradient is cheap but local (one backward pass, saturates); integrated gradients (Sundararajan
et al., 2017) integrate the gradient from a reference image to the input so that the map
adds up to the logit difference (completeness), which makes maps comparable across images.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from captum.attr import IntegratedGradients, Saliency
from torch import nn

from analysis.explain.attribution import AttributionMethod, reduce_channels, resolve_baseline
from analysis.explain.registry import register_method
from analysis.explain.targets import Target
from analysis.nets.registry import MeanStd


@register_method("gradient")
class Gradient(AttributionMethod):
    """Vanilla gradient of the target logit w.r.t. the input (captum ``Saliency``).

    Channels: ``absolute=True`` (default) is Simonyan et al.'s saliency map, the max of
    |gradient| over the colour channels (unsigned: "how sensitive"); ``absolute=False``
    sums the signed gradient over channels (the logit's response to brightening that
    pixel; positive = brighter helps the class).
    """

    reduction = "max |grad| over channels"

    def __init__(self, model: nn.Module, target_layer: Any = None, absolute: bool = True):
        super().__init__(model, target_layer)
        self.absolute = bool(absolute)
        if not self.absolute:  # instance attributes: the UI asks the configured method
            self.signed = True
            self.reduction = "signed sum over channels"

    def _attribute(self, x, forward, target):
        grad = Saliency(forward).attribute(x, target=target, abs=False)
        return reduce_channels(grad, "max_abs" if self.absolute else "sum")


@register_method("integrated_gradients")
class IntegratedGradientsMethod(AttributionMethod):
    """Integrated gradients (captum), path from ``baseline`` to the input.

    Channels: signed sum, so that a map's total equals f(x) − f(baseline) up to the
    integration error (``attribute_with_delta`` returns it). ``baseline="black"`` is pixel
    value 0 before normalisation: pass ``mean_std`` (``spec.mean_std(weights)``) for a
    normalised model, otherwise 0 in input space is used. ``n_steps`` Gauss–Legendre
    points; ``internal_batch_size`` bounds memory (rows per forward/backward), not the result.
    """

    reduction = "signed sum over channels"
    demand_options = {"baseline": "black", "n_steps": 50, "internal_batch_size": 10}

    @classmethod
    def passes(cls, options: dict) -> int:
        steps, batch = int(options.get("n_steps", 50)), int(options.get("internal_batch_size", 16))
        return math.ceil(steps / batch) + 1

    def __init__(self, model: nn.Module, target_layer: Any = None, baseline: Any = "black",
                 mean_std: MeanStd | None = None, n_steps: int = 50, internal_batch_size: int = 16,
                 method: str = "gausslegendre"):
        super().__init__(model, target_layer)
        if int(n_steps) < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        if int(internal_batch_size) < 1:
            raise ValueError(f"internal_batch_size must be >= 1, got {internal_batch_size}")
        self.baseline = baseline
        self.mean_std = mean_std
        self.n_steps = int(n_steps)
        self.internal_batch_size = int(internal_batch_size)
        self.method = method

    def _integrate(self, x, forward, target):
        base = resolve_baseline(self.baseline, x, self.mean_std)
        attr, delta = IntegratedGradients(forward).attribute(
            x, baselines=base, target=target, n_steps=self.n_steps, method=self.method,
            internal_batch_size=max(self.internal_batch_size, x.shape[0]),
            return_convergence_delta=True,
        )
        return reduce_channels(attr, "sum"), delta

    def _attribute(self, x, forward, target):
        return self._integrate(x, forward, target)[0]

    def attribute_with_delta(self, inputs: torch.Tensor, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
        """``(maps, delta)`` with ``delta[i] = maps[i].sum() − (f(x_i) − f(baseline_i))``:
        the integration error, to choose ``n_steps`` or to flag a map."""
        maps, delta = self._run(inputs, target, self._integrate)
        return maps, delta
