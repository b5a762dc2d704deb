"""CSAIL "wideresnet18" Places365: a ResNet18 *without the stem maxpool*.

CSAIL's ``wideresnet.py`` comments the maxpool out (layer4 keeps stride 2), so the maps
are twice as wide as torchvision's: 512×14×14 at 224 px, which is why CSAIL use it for
CAMs. torchvision's ResNet18 minus ``maxpool`` has exactly CSAIL's parameter names, so the
checkpoint (``{"state_dict": {"module.…": …}}``) loads by name after stripping ``module.``.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18

from analysis.nets.registry import IMAGENET_MEAN_STD, register_backbone
from analysis.nets.resnet import RESNET_STAGES, split_resnet
from analysis.nets.weights import fetch, load_state_dict_safely

WIDERESNET18_TRUNK = ("conv1", "bn1", "relu") + RESNET_STAGES  # no maxpool


def wideresnet18_from_state_dict(state_dict: dict[str, torch.Tensor] | None,
                                 num_classes: int = 365) -> tuple[nn.Sequential, nn.Sequential]:
    """Trunk and head; ``state_dict`` None keeps torchvision's random init."""
    if state_dict is not None:
        num_classes = state_dict["fc.weight"].shape[0]
    model = resnet18(weights=None, num_classes=num_classes)
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    return split_resnet(model, WIDERESNET18_TRUNK)


@register_backbone(
    "resnet18_places365",
    description="CSAIL wideresnet18 Places365 (ResNet18, no maxpool); target = layer4 (14x14 at 224)",
    weight_sources=("places365", "random"),
    default_weights="places365",
    target_layer="layer4",
    last_block=("layer4",),
    feature_channels=512,
    stride=16,
    normalization={"places365": IMAGENET_MEAN_STD, "random": IMAGENET_MEAN_STD},
    original_classes="places365",
)
def build_resnet18_places365(weights: str) -> tuple[nn.Sequential, nn.Sequential]:
    """CSAIL wideresnet18 Places365."""
    if weights == "random":
        return wideresnet18_from_state_dict(None)
    return wideresnet18_from_state_dict(load_state_dict_safely(fetch("wideresnet18_places365")))
