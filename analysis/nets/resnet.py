"""ResNet50: ImageNet (torchvision IMAGENET1K_V2) and CSAIL Places365, or random.

Trunk = torchvision's children up to ``layer4`` with torchvision's names, so the
torchvision and CSAIL state dicts load by name; target = ``layer4`` (2048×7×7 at 224).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models import ResNet, resnet50

from analysis.nets.registry import IMAGENET_MEAN_STD, register_backbone
from analysis.nets.weights import fetch, load_state_dict_safely

RESNET_STEM = ("conv1", "bn1", "relu", "maxpool")
RESNET_STAGES = ("layer1", "layer2", "layer3", "layer4")


def split_resnet(model: ResNet, names=RESNET_STEM + RESNET_STAGES) -> tuple[nn.Sequential, nn.Sequential]:
    """(trunk of the named children, head = global avgpool → flatten → fc)."""
    trunk = nn.Sequential(OrderedDict((n, model.get_submodule(n)) for n in names))
    head = nn.Sequential(OrderedDict(avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), fc=model.fc))
    return trunk, head


def resnet50_from_state_dict(state_dict: dict[str, torch.Tensor]) -> tuple[nn.Sequential, nn.Sequential]:
    """Trunk and head from a torchvision-named ResNet50 state dict (any class count)."""
    model = resnet50(weights=None, num_classes=state_dict["fc.weight"].shape[0])
    model.load_state_dict(state_dict, strict=True)
    return split_resnet(model)


_COMMON = dict(
    target_layer="layer4",
    last_block=("layer4",),
    feature_channels=2048,
    stride=32,
    normalization={"imagenet": IMAGENET_MEAN_STD, "places365": IMAGENET_MEAN_STD,
                   "random": IMAGENET_MEAN_STD},
)


@register_backbone(
    "resnet50",
    description="ResNet50 (torchvision ImageNet V2); target = layer4 (7x7 at 224)",
    weight_sources=("imagenet", "random"),
    default_weights="imagenet",
    original_classes="imagenet",
    **_COMMON,
)
def build_resnet50(weights: str) -> tuple[nn.Sequential, nn.Sequential]:
    """ResNet50 ImageNet."""
    if weights == "random":
        return split_resnet(resnet50(weights=None))
    return resnet50_from_state_dict(load_state_dict_safely(fetch("resnet50_imagenet")))


@register_backbone(
    "resnet50_places365",
    description="ResNet50 Places365 (CSAIL); target = layer4 (7x7 at 224)",
    weight_sources=("places365", "random"),
    default_weights="places365",
    original_classes="places365",
    **_COMMON,
)
def build_resnet50_places365(weights: str) -> tuple[nn.Sequential, nn.Sequential]:
    """ResNet50 Places365."""
    if weights == "random":
        return split_resnet(resnet50(weights=None, num_classes=365))
    return resnet50_from_state_dict(load_state_dict_safely(fetch("resnet50_places365")))
