"""Grad-CAM for every class of both heads from ONE trunk pass.

Why: ∂logit_k/∂A (A = the target feature map) depends only on the layers after A — the
head. So the trunk runs once (without autograd), and the head's Jacobian of all K = Kc + Kg
logits w.r.t. A is taken in one batched backward through the head. On CPU the whole
explanation then costs about one inference pass instead of one forward+backward per
class (DESIGN, "Measured on this 2-core CPU machine"; ``benchmarks/bench_gradcam.py``).

From the Jacobian J[n, k] = ∂logit_k/∂A[n] (C, h, w):

* Grad-CAM weights   α[n, k, c] = mean_xy J[n, k, c, x, y]
* raw map            raw[n, k]  = Σ_c α[n, k, c] · A[n, c]     (signed, *before* ReLU)
* channel attribution (``channels.py``) Σ_xy A · J, from the same J.

The raw map is stored signed so that every view is a cheap pure function later:
Grad-CAM = ``gradcam_map`` (ReLU), "why A rather than B" = ``contrastive_map`` =
ReLU(raw_A − raw_B), which is exactly Grad-CAM with weights α_A − α_B (linearity).

Output order along K: the Kc city logits, then the Kg group logits
(``CamResult.group_index(g)``).

The Jacobian uses ``torch.autograd.grad(..., is_grads_batched=True)`` with identity
cotangents. Measured against ``vmap(jacrev(head))`` on this CPU (8 images, 12 outputs,
EfficientNet-Lite0 / wideresnet18 feature maps) the two give identical Jacobians in the
same time (30–45 ms on a loaded machine); the batched backward runs the head forward once
on the whole batch and composes with ``create_graph``. A loop of K backward passes was
~7× slower. The general computation is right for any head. A head that reads A only
through its spatial mean (streetlens' ``TwoHeadClassifier``: ``model.pooled_head()``) takes
the Jacobian of the pooled vector instead (``_mean_pooled_gradients``): with 32 images of
EfficientNet-Lite0 on two cores, 1-3 ms instead of 12 ms at 128 px and 27 ms at 224 px,
next to a trunk pass of 60-85 and 230 ms.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from analysis.explain.attribution import AttributionMethod, trunk_output_layer
from analysis.explain.cam_views import contrastive_map, gradcam_map  # noqa: F401 (their home before cam_views)
from analysis.explain.channels import attribution_from_jacobian
from analysis.explain.registry import register_method
from analysis.explain.scaling import normalise, upsample

"""pytorch-grad-cam's epsilon in ``scale_cam_image``; kept so our views match it."""


@dataclass
class CamResult:
    """Everything one pass over a batch yields. Detached unless ``create_graph=True``.

    raw           (N, K, h, w) signed Σ_c α·A for every output, pre-ReLU; float32
                  (float64 for a float64 model)
    class_logits  (N, Kc)
    group_logits  (N, Kg)
    pooled        (N, C)      ``model.embed(A)``: what the head sees (UMAP, SVM)
    gradients     (N, K, C)   Grad-CAM weights α = spatial mean of ∂logit_k/∂A_c
    channel_attr  (N, K, C)   Σ_xy A·∂logit_k/∂A (gradient × activation)
    features      (N, C, h, w) the feature map A, or None with ``keep_features=False``
    """

    raw: torch.Tensor
    class_logits: torch.Tensor
    group_logits: torch.Tensor
    pooled: torch.Tensor
    gradients: torch.Tensor
    channel_attr: torch.Tensor
    features: torch.Tensor | None = None

    @property
    def n_classes(self) -> int:
        return self.class_logits.shape[1]

    @property
    def n_groups(self) -> int:
        return self.group_logits.shape[1]

    def group_index(self, g: int) -> int:
        """Index along K of group ``g``'s output."""
        if not 0 <= g < self.n_groups:
            raise IndexError(f"group {g} out of range for {self.n_groups} groups")
        return self.n_classes + g


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode inside (dropout off, BN running stats: images independent, so one
    batched backward gives per-image Jacobians); every module's own flag restored after,
    since callers mix modes (frozen trunk in eval, head in train)."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in flags:
            m.training = training


def _check_inputs(model: nn.Module, x: torch.Tensor) -> None:
    for name in ("features", "head", "embed"):
        if not callable(getattr(model, name, None)):
            raise TypeError(f"model {type(model).__name__} has no {name}(); "
                            "all_class_cams needs a streetlens classifier (features/head/embed)")
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor (N, 3, H, W), got "
                         f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")
    param = next(model.parameters(), None)
    if param is not None and param.device != x.device:
        raise ValueError(f"x is on {x.device} but the model is on {param.device}; "
                         "move the model to the input's device")
    if torch.is_inference_mode_enabled():
        raise RuntimeError("all_class_cams needs autograd; call it outside torch.inference_mode()")


def _logits_jacobian(head, x: torch.Tensor, create_graph: bool
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(class_logits, group_logits, J)``, J (N, K, *x.shape[1:]) = ∂logit_k/∂x of
    ``head(x)``: one forward on the batch, one batched backward with identity cotangents.
    ``x`` keeps its graph when ``create_graph`` and it has one; else a detached leaf."""
    if not (create_graph and x.requires_grad):
        x = x.detach().requires_grad_()
    with torch.enable_grad():
        class_logits, group_logits = head(x)
        out = torch.cat([class_logits, group_logits], dim=1)
        n, k = out.shape
        cotangents = torch.eye(k, dtype=out.dtype, device=out.device)[:, None, :].expand(k, n, k)
        (jac,) = torch.autograd.grad(out, x, cotangents, is_grads_batched=True, create_graph=create_graph)
    return class_logits, group_logits, jac.transpose(0, 1)


def head_jacobian(model: nn.Module, features: torch.Tensor, *, create_graph: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(class_logits, group_logits, J)`` with J (N, K, C, h, w) = ∂logit_k/∂features.

    One head forward on the batch, one batched backward with identity cotangents.
    Per-image correctness needs the head to treat images independently (eval mode).
    Shared by Grad-CAM and channel attribution so both come from the same pass.
    """
    return _logits_jacobian(model.head, features, create_graph)


def _mean_pooled_gradients(pooled_head, model: nn.Module, feats: torch.Tensor, create_graph: bool):
    """Grad-CAM weights and channel attributions of a head that reads A only through its
    spatial mean p = mean_xy A (``model.pooled_head()``): with g = ∂logit/∂p (N, K, C),
    ∂logit/∂A[c, x, y] = g[c] / (h·w) everywhere, so α = g / (h·w) and Σ_xy A·J = g · p.
    The batched backward then runs over (N, C) instead of (N, C, h, w): a tenth of the
    head's time at 128 px (1 instead of 10-12 ms per 32 images), and the same values as
    :func:`head_jacobian` (tested)."""
    with torch.set_grad_enabled(create_graph):
        pooled = model.embed(feats)
    class_logits, group_logits, g = _logits_jacobian(pooled_head, pooled, create_graph)  # g (N, K, C)
    with torch.set_grad_enabled(create_graph):
        alpha = g / (feats.shape[-2] * feats.shape[-1])
        attr = g * pooled[:, None, :]
    return class_logits, group_logits, pooled, alpha, attr


def all_class_cams(model: nn.Module, x: torch.Tensor, *, create_graph: bool = False,
                   keep_features: bool = True) -> CamResult:
    """Grad-CAM raw maps and channel attributions of every output of both heads.

    ``x`` (N, 3, H, W) is preprocessed input on the model's device; results stay on that
    device. ``create_graph=True`` keeps everything differentiable w.r.t. ``x`` and the
    parameters (the trunk then runs with autograd, so it is slower). The caller's tensors
    are not modified; the model's train/eval flags are restored; no hooks are used.
    """
    _check_inputs(model, x)
    with _eval_mode(model):
        with torch.set_grad_enabled(create_graph):
            feats = model.features(x)
        return cams_from_features(model, feats, create_graph=create_graph, keep_features=keep_features)


def cams_from_features(model: nn.Module, feats: torch.Tensor, *, create_graph: bool = False,
                       keep_features: bool = True) -> CamResult:
    """:func:`all_class_cams` from an already computed target feature map (N, C, h, w) —
    e.g. read from the training's trunk cache, so the trunk need not run again."""
    if feats.dim() != 4:
        raise ValueError(f"model.features must return (N, C, h, w), got {tuple(feats.shape)}")
    with _eval_mode(model):
        pooled_head = getattr(model, "pooled_head", lambda: None)()
        if pooled_head is not None:
            class_logits, group_logits, pooled, alpha, attr = _mean_pooled_gradients(
                pooled_head, model, feats, create_graph)
        else:
            with torch.set_grad_enabled(create_graph):
                pooled = model.embed(feats)
            class_logits, group_logits, jac = head_jacobian(model, feats, create_graph=create_graph)
            with torch.set_grad_enabled(create_graph):
                alpha = jac.mean(dim=(-2, -1))
                attr = attribution_from_jacobian(feats, jac)
        with torch.set_grad_enabled(create_graph):
            raw = torch.einsum("nkc,nchw->nkhw", alpha, feats)
    # float32 at least (half-precision models still store float32 maps); a float64 model
    # keeps float64 so that create_graph results can be gradient-checked.
    raw = raw.to(torch.promote_types(raw.dtype, torch.float32))
    result = CamResult(raw=raw, class_logits=class_logits, group_logits=group_logits,
                       pooled=pooled, gradients=alpha, channel_attr=attr,
                       features=feats if keep_features else None)
    if not create_graph:
        for name in ("class_logits", "group_logits", "pooled", "gradients", "channel_attr", "features"):
            value = getattr(result, name)
            if value is not None:
                setattr(result, name, value.detach())
    return result


# -- views: pure functions on stored raw maps (tensors or numpy arrays / memmaps) ------------
# gradcam_map and contrastive_map live in cam_views (no torch: the dashboard reads stored maps)

def display_map(m, size: int | tuple[int, int]):
    """A (ReLU'd) map ready to overlay on the (H, W) image: ``normalise(upsample(normalise(m)))``,
    pytorch-grad-cam's exact post-processing for one target layer (normalise, resize,
    then normalise again when it aggregates layers)."""
    return normalise(upsample(normalise(m), size))


# -------------------------------------------------- the registry's entry for it
@register_method("gradcam")
class GradCam(AttributionMethod):
    """Grad-CAM from streetlens's all-class implementation (this module).

    Why a registry entry around it: precompute computes all classes at once; this gives the
    same maps through the common signature (and is cross-checked against captum's
    ``LayerGradCam`` in ``gradcam_captum``). Uses ``all_class_cams(model, x).raw``
    (N, Kc + Kg, h, w: city logits, then group), ``gradcam_map`` (ReLU) and ``upsample``
    (bilinear, as pytorch-grad-cam). Channels: feature-map channels weighted by their
    pooled gradients, summed; ReLU keeps evidence *for* the class (``relu=False``: the
    raw, signed map).
    """

    needs_layer = True
    reduction = "feature channels weighted by mean gradient, summed; ReLU"

    def __init__(self, model: nn.Module, target_layer: str | nn.Module | None = None, relu: bool = True):
        super().__init__(model, target_layer)
        if self.layer is not trunk_output_layer(model):
            raise ValueError("the all-class Grad-CAM works on the trunk output only; "
                             "use 'gradcam_captum' for another layer")
        self.relu = relu

    def _attribute(self, x, forward, target):
        result = all_class_cams(self.model, x, keep_features=False)
        offset = 0 if forward.head == "city" else result.n_classes  # K = city logits, then group
        ks = [target] * x.shape[0] if isinstance(target, int) else target
        raw = result.raw.detach()
        maps = torch.stack([gradcam_map(raw[i], offset + k) if self.relu else raw[i, offset + k]
                            for i, k in enumerate(ks)])
        return upsample(maps, tuple(x.shape[-2:])).to(x.dtype)
