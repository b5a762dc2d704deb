"""Backbones, the two-head classifier and weight files (see DESIGN "Extension points").

Typical use::

    spec = get_backbone("efficientnet_lite0")
    model = build_classifier("efficientnet_lite0", "imagenet", n_classes=10, n_groups=2)
    frozen, last = spec.split(model.trunk)   # cache frozen(x), train last + head
"""
from analysis.nets import convnext, efficientnet, resnet, tiny, vgg, wideresnet  # noqa: F401  (register)
from analysis.nets.classifier import TwoHeadClassifier, build_classifier, two_head_loss
from analysis.nets.places365 import places365_categories
from analysis.nets.registry import (
    BACKBONES,
    BackboneSpec,
    UnknownBackboneError,
    get_backbone,
    list_backbones,
    register_backbone,
)
from analysis.nets.weight_sources import (
    WEIGHT_SOURCES,
    ChecksumMismatchError,
    UntrustedCheckpointError,
    WeightsError,
    WeightsUnavailableError,
)
from analysis.nets.weights import fetch, list_weights, load_state_dict_safely

__all__ = [
    "BACKBONES", "BackboneSpec", "ChecksumMismatchError", "TwoHeadClassifier",
    "UnknownBackboneError", "UntrustedCheckpointError", "WEIGHT_SOURCES", "WeightsError",
    "WeightsUnavailableError", "build_classifier", "fetch", "get_backbone", "list_backbones",
    "list_weights", "load_state_dict_safely", "places365_categories", "register_backbone",
    "two_head_loss",
]
