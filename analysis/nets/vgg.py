"""VGG16: ImageNet (torchvision), Places365 (Keras .h5 converted), or random.

The trunk is torchvision's ``features`` up to the last ReLU of block 5 (``features.29``),
*before* pool5: that 14×14 map (at 224 px) is what the original project ran Grad-CAM on,
and keeping pool5 in the head doubles the map's resolution for attribution. Keys stay
torchvision's (``0`` … ``29``) so torchvision weights and Grad-CAM recipes apply as is.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from analysis.nets.keras_convert import CAFFE_MEAN_BGR, VGG16_WIDTHS, convert_keras_vgg16
from analysis.nets.registry import IMAGENET_MEAN_STD, register_backbone
from analysis.nets.weight_sources import default_root
from analysis.nets.weights import fetch, load_state_dict_safely, sha256_of

CAFFE_MEAN_STD = (tuple(m / 255.0 for m in reversed(CAFFE_MEAN_BGR)), (1 / 255.0,) * 3)
"""RGB in [0,1] → Caffe scale: (x - mean)/std = 255·x − mean_rgb (BGR flip is in conv1)."""

TARGET_INDEX = 29  # ReLU after block5_conv3
POOL5_INDEX = 30


def vgg16_features(widths: tuple[int, ...] = VGG16_WIDTHS) -> nn.Sequential:
    """VGG16 conv stack with torchvision indices; ``widths`` shrinks it for tests."""
    layers: list[nn.Module] = []
    cin, i = 3, 0
    for block_size in (2, 2, 3, 3, 3):
        for _ in range(block_size):
            layers += [nn.Conv2d(cin, widths[i], 3, padding=1), nn.ReLU()]
            cin, i = widths[i], i + 1
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


def vgg16_classifier(in_features: int, hidden: int = 4096, classes: int = 1000) -> nn.Sequential:
    """torchvision's VGG classifier layout (indices 0, 3, 6 are the Linear layers)."""
    return nn.Sequential(
        nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, classes),
    )


def split_vgg(features: nn.Sequential, classifier: nn.Module,
              pool5_hw: tuple[int, int] = (7, 7)) -> tuple[nn.Sequential, nn.Sequential]:
    """(trunk = features[:30], head = pool5 → adaptive avgpool → flatten → classifier)."""
    trunk = features[: TARGET_INDEX + 1]
    head = nn.Sequential(OrderedDict(
        pool5=features[POOL5_INDEX],
        avgpool=nn.AdaptiveAvgPool2d(pool5_hw),
        flatten=nn.Flatten(),
        classifier=classifier,
    ))
    return trunk, head


def from_state_dict(state_dict: dict[str, torch.Tensor]) -> tuple[nn.Sequential, nn.Sequential]:
    """Trunk and head from a torchvision-layout VGG16 state dict (any number of classes)."""
    classes = state_dict["classifier.6.weight"].shape[0]
    with torch.device("meta"):  # skip 138M random inits that load_state_dict would overwrite
        features, classifier = vgg16_features(), vgg16_classifier(512 * 7 * 7, 4096, classes)
        model = nn.Sequential(OrderedDict(features=features, classifier=classifier))
    model.load_state_dict(state_dict, strict=True, assign=True)
    return split_vgg(features, classifier)


def places365_state_dict(root: Path | None = None) -> dict[str, torch.Tensor]:
    """Converted VGG16-Places365 state dict, cached as a .pth next to the Keras file.

    Converting the 0.5 GB .h5 takes seconds; the cache is keyed by the .h5's sha256 so a
    replaced .h5 is converted again.
    """
    root = default_root() if root is None else Path(root)
    h5 = fetch("vgg16_places365_keras", root=root)
    h5_sha = json.loads(h5.with_name(h5.name + ".json").read_text()).get("sha256") or sha256_of(h5)
    cached = root / "vgg16_places365_converted.pth"
    meta = cached.with_name(cached.name + ".json")
    if cached.is_file() and meta.is_file() and json.loads(meta.read_text()).get("from_sha256") == h5_sha:
        return load_state_dict_safely(cached)
    sd = convert_keras_vgg16(h5)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".vgg16_places365.", suffix=".part")
    os.close(fd)
    torch.save(sd, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, cached)
    meta.write_text(json.dumps({"from_sha256": h5_sha, "converter": "analysis.nets.keras_convert"}))
    return sd


@register_backbone(
    "vgg16",
    description="VGG16; target = block5_conv3 ReLU (14x14 at 224), finetune = block 5",
    weight_sources=("places365", "imagenet", "random"),
    default_weights="places365",
    target_layer=str(TARGET_INDEX),
    last_block=("24", "26", "28"),
    feature_channels=512,
    stride=16,
    rounding="floor",
    normalization={"places365": CAFFE_MEAN_STD, "imagenet": IMAGENET_MEAN_STD,
                   "random": IMAGENET_MEAN_STD},
    original_classes="places365",
)
def build_vgg16(weights: str) -> tuple[nn.Sequential, nn.Sequential]:
    """VGG16 (torchvision layout)."""
    if weights == "random":
        features = vgg16_features()
        classifier = vgg16_classifier(512 * 7 * 7)
        for m in features.modules():  # torchvision's VGG init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
        for m in classifier.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
        return split_vgg(features, classifier)
    if weights == "imagenet":
        return from_state_dict(load_state_dict_safely(fetch("vgg16_imagenet")))
    return from_state_dict(places365_state_dict())
