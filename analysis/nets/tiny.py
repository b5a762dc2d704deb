"""A tiny CNN for tests and smoke runs: three 3×3 conv blocks, random weights, fast on CPU
at 32–64 px. Target = ``block3`` (32 channels, stride 4: 8×8 at 32 px)."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from analysis.nets.registry import IMAGENET_MEAN_STD, register_backbone


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers: list[tuple[str, nn.Module]] = [("conv", nn.Conv2d(cin, cout, 3, padding=1)),
                                           ("relu", nn.ReLU())]
    if pool:
        layers.append(("pool", nn.MaxPool2d(2)))
    return nn.Sequential(OrderedDict(layers))


@register_backbone(
    "tiny_cnn",
    description="tiny 3-conv CNN for tests (random weights); target = block3 (stride 4)",
    weight_sources=("random",),
    default_weights="random",
    target_layer="block3",
    last_block=("block3",),
    feature_channels=32,
    stride=4,
    rounding="floor",
    input_size=32,
    normalization={"random": IMAGENET_MEAN_STD},
)
def build_tiny_cnn(weights: str) -> tuple[nn.Sequential, nn.Sequential]:
    """Tiny CNN (random weights; seed torch for reproducibility)."""
    trunk = nn.Sequential(OrderedDict(
        block1=_block(3, 16, pool=True),
        block2=_block(16, 32, pool=True),
        block3=_block(32, 32, pool=False),
    ))
    head = nn.Sequential(OrderedDict(avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
                                     fc=nn.Linear(32, 10)))
    return trunk, head
