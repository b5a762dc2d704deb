"""Guided backpropagation, guided Grad-CAM and single-target Grad-CAM via captum.

Guided backprop (Springenberg et al., 2015) zeroes negative gradients at every ReLU: sharp,
edge-like maps, but largely class-insensitive (Adebayo et al. 2018 show it barely changes
when the weights are randomised — the reliability page tests exactly that). Guided
Grad-CAM (Selvaraju et al., 2017) multiplies it by the class-discriminative, coarse
Grad-CAM map: the original project's two views, one per image.

``gradcam_captum`` is Grad-CAM for one target through captum's ``LayerGradCam``: an
independent implementation to cross-check streetlens's all-class Grad-CAM against.

Guided backprop only modifies ``nn.ReLU`` modules (captum's hooks); backbones with GELU
(ConvNeXt) or functional ReLUs get partly plain gradients. Our trunks use non-inplace
``nn.ReLU`` modules (the registry enforces it), which the hooks require.
"""
from __future__ import annotations

from typing import Any

from captum.attr import GuidedBackprop, GuidedGradCam, LayerGradCam
from torch import nn

from analysis.explain.attribution import AttributionMethod, reduce_channels
from analysis.explain.registry import register_method
from analysis.explain.scaling import upsample


@register_method("guided_backprop")
class GuidedBackpropMethod(AttributionMethod):
    """Guided backpropagation (captum ``GuidedBackprop``).

    Channels: signed sum over channels (the guided gradient's response to brightening the
    pixel). Use ``to_display(m, signed=False)`` for the usual magnitude picture.
    """

    reduction = "signed sum over channels"

    def _attribute(self, x, forward, target):
        return reduce_channels(GuidedBackprop(forward).attribute(x, target=target), "sum")


@register_method("guided_gradcam")
class GuidedGradCamMethod(AttributionMethod):
    """Guided Grad-CAM (captum ``GuidedGradCam``): guided backprop × ReLU'd Grad-CAM at the
    target layer, upsampled bilinearly (as in the paper; captum's default is nearest).

    Channels: signed sum over channels of the product (Grad-CAM is ≥ 0, so the sign is
    guided backprop's).
    """

    needs_layer = True
    reduction = "signed sum over channels of guided backprop × Grad-CAM"

    @classmethod
    def passes(cls, options: dict) -> int:
        return 2

    def _attribute(self, x, forward, target):
        attr = GuidedGradCam(forward, self.layer).attribute(x, target=target, interpolate_mode="bilinear")
        return reduce_channels(attr, "sum")


@register_method("gradcam_captum")
class GradCamCaptum(AttributionMethod):
    """Grad-CAM for one target via captum's ``LayerGradCam`` at the target layer
    (default: the trunk output), upsampled bilinearly to the input.

    Channels: feature channels weighted by their spatially averaged gradient and summed;
    ReLU keeps evidence for the class (``relu=False``: the raw signed map, comparable to
    the all-class module's raw output).
    """

    needs_layer = True
    reduction = "feature channels weighted by mean gradient, summed; ReLU"

    def __init__(self, model: nn.Module, target_layer: Any = None, relu: bool = True):
        super().__init__(model, target_layer)
        self.relu = bool(relu)

    def _attribute(self, x, forward, target):
        cam = LayerGradCam(forward, self.layer).attribute(x, target=target, relu_attributions=self.relu)
        if cam.dim() != 4 or cam.shape[1] != 1:
            raise RuntimeError(f"layer {self.layer_name!r} gave Grad-CAM of shape {tuple(cam.shape)}; "
                               "choose a convolutional layer (N, C, h, w)")
        return upsample(cam[:, 0], tuple(x.shape[-2:]))
