"""ConvNeXt-Tiny (torchvision ImageNet) or random.

Trunk = torchvision's ``features`` (children ``0`` … ``7``: stem, stage, downsample, …);
target = ``7``, the last stage (768×7×7 at 224). The original head's LayerNorm stays in
the head. Note: torchvision's stochastic depth (0.1) is active in train mode only.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models import ConvNeXt, convnext_tiny

from analysis.nets.registry import IMAGENET_MEAN_STD, register_backbone
from analysis.nets.weights import fetch, load_state_dict_safely


def split_convnext(model: ConvNeXt) -> tuple[nn.Sequential, nn.Sequential]:
    """(trunk = features, head = avgpool → LayerNorm2d → flatten → linear)."""
    head = nn.Sequential(OrderedDict(avgpool=model.avgpool, classifier=model.classifier))
    return model.features, head


def convnext_tiny_from_state_dict(state_dict: dict[str, torch.Tensor]) -> tuple[nn.Sequential, nn.Sequential]:
    model = convnext_tiny(weights=None, num_classes=state_dict["classifier.2.weight"].shape[0])
    model.load_state_dict(state_dict, strict=True)
    return split_convnext(model)


@register_backbone(
    "convnext_tiny",
    description="ConvNeXt-Tiny (torchvision ImageNet); target = last stage (7x7 at 224)",
    weight_sources=("imagenet", "random"),
    default_weights="imagenet",
    target_layer="7",
    last_block=("7",),
    feature_channels=768,
    stride=32,
    rounding="floor",
    normalization={"imagenet": IMAGENET_MEAN_STD, "random": IMAGENET_MEAN_STD},
    original_classes="imagenet",
)
def build_convnext_tiny(weights: str) -> tuple[nn.Sequential, nn.Sequential]:
    """ConvNeXt-Tiny."""
    if weights == "random":
        return split_convnext(convnext_tiny(weights=None))
    return convnext_tiny_from_state_dict(load_state_dict_safely(fetch("convnext_tiny_imagenet")))
