"""Attribution maps for the reliability checks: the methods the dashboard shows, computed
through the method registry (``analysis.explain.registry``) with the run's settings.

One function, ``compute_maps(model, x, target, methods, settings)``, gives
``{method: (N, H, W) float32 numpy}`` for the original model and, unchanged, for every
randomised copy, so the checks compare like with like.

Guided Grad-CAM is computed as Grad-CAM × guided backprop when both are requested: captum's
``GuidedGradCam`` multiplies the guided-backprop attribution by the upsampled ReLU'd
Grad-CAM map and our registry entry sums the colour channels afterwards, so
Σ_c (gbp_c · cam) = cam · Σ_c gbp_c — the same map (tested against the registry entry), one
forward/backward pass cheaper on every randomisation step.

Importing this module does not import PyTorch (torch is only in the annotations): the
dashboard's Reliability page and trust badges read ``DEFAULT_METHODS`` and ``method_label``
from here; ``compute_maps`` imports the method modules through the registry.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analysis.explain.method_cards import CARDS
from analysis.explain.registry import get_method, list_methods
from analysis.explain.targets import Target, batch_target

if TYPE_CHECKING:
    import torch
    from torch import nn

    from analysis.nets.registry import MeanStd

DEFAULT_METHODS: tuple[str, ...] = ("gradcam", "gradient", "guided_backprop", "guided_gradcam",
                                    "integrated_gradients")
"""What the dashboard shows next to every image, in the order the pages list them."""


@dataclass(frozen=True)
class MapSettings:
    """How each method is configured: the run's target layer and normalisation (for the
    integrated-gradients black baseline) and the integration steps.

    ``ig_steps``: Gauss–Legendre points of integrated gradients. Its cost is ``ig_steps``
    forward+backward passes per image — on every randomisation step — so the checks use
    fewer than the 50 of an interactive map (the stage passes
    ``AnalyzeConfig.reliability_ig_steps``, 8 by default). Measured on the demo's fine-tuned
    EfficientNet-Lite0, 4 test images: the 8-step maps rank pixels like the 50-step ones
    with Spearman 0.91–0.94 (signed), 0.83–0.88 (absolute).
    """

    target_layer: str | None = None
    mean_std: MeanStd | None = None
    ig_steps: int = 16
    batch_size: int = 16

    def options(self, method: str) -> dict:
        if method == "integrated_gradients":
            return {"n_steps": self.ig_steps, "mean_std": self.mean_std, "baseline": "black",
                    "internal_batch_size": self.batch_size}
        if method == "occlusion":
            return {"mean_std": self.mean_std}
        return {}


def parse_methods(methods: str | Sequence[str] | None) -> tuple[str, ...]:
    """Method names from a comma-separated string or a list (None = the default five),
    checked against the registry (one clear error naming the valid ones)."""
    if methods is None or methods == "":
        return DEFAULT_METHODS
    names = [m.strip() for m in (methods.split(",") if isinstance(methods, str) else methods) if m.strip()]
    known = list_methods()
    bad = [m for m in names if m not in known]
    if bad:
        raise ValueError(f"unknown attribution method(s) {', '.join(bad)}; choose from {', '.join(known)}")
    return tuple(dict.fromkeys(names))


def method_label(method: str) -> str:
    """The method's label (its card's), or its name with spaces for an unknown one."""
    card = CARDS.get(method)
    return card.label if card is not None else method.replace("_", " ")


def method_signed(method: str) -> bool:
    """Whether the method's maps carry a meaningful sign (its card's ``signed``)."""
    card = CARDS.get(method)
    return bool(card.signed) if card is not None else True


def compute_maps(model: nn.Module, x: torch.Tensor, target: Target,
                 methods: Sequence[str], settings: MapSettings | None = None) -> dict[str, np.ndarray]:
    """``{method: (N, H, W) float32}`` for ``x`` (normalised batch) and ``target`` (one
    index per image), computed in chunks of ``settings.batch_size``."""
    settings = settings or MapSettings()
    target = batch_target(target, x.shape[0])
    head = target.head
    index = target.per_sample(x.shape[0])
    wanted = list(methods)
    derive_ggc = "guided_gradcam" in wanted and "gradcam" in wanted and "guided_backprop" in wanted
    order = [m for m in wanted if not (derive_ggc and m == "guided_gradcam")]
    out: dict[str, list[np.ndarray]] = {m: [] for m in wanted}
    for a in range(0, x.shape[0], settings.batch_size):
        xb, tb = x[a:a + settings.batch_size], index[a:a + settings.batch_size]
        for m in order:
            method = get_method(m, model, target_layer=settings.target_layer, **settings.options(m))
            out[m].append(method.attribute(xb, Target(head, tuple(tb))).float().cpu().numpy())
        if derive_ggc:
            out["guided_gradcam"].append(out["gradcam"][-1] * out["guided_backprop"][-1])
    return {m: np.concatenate(v).astype(np.float32) for m, v in out.items()}
