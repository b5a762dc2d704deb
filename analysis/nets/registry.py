"""Backbone registry: one place that says, per CNN family, how to build its trunk.

A *trunk* is an ``nn.Sequential`` whose output IS the target feature map used for
attribution (Grad-CAM, channel attribution) and for pooling into the classifier head.
Keeping the trunk a flat ``nn.Sequential`` of named stages lets every consumer cut it at a
stage boundary without knowing the family: training caches the frozen part's output
(``split``), explainers hook ``trunk.get_submodule(spec.target_layer)``.

Each family module (``vgg.py``, ``resnet.py`` …) registers its entries with
``@register_backbone(name, ...)`` on a builder ``builder(weights) -> (trunk, original_head)``;
``original_head`` maps the feature map to the pretrained network's own logits (ImageNet or
Places365), which the "street score" and sanity checks need. CLI, precompute and dashboard
all go through ``get_backbone(name)``.
"""
from __future__ import annotations

import importlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

Trunk = nn.Sequential
"""Type of a trunk: named stages, output = target feature map."""

Builder = Callable[[str], tuple[nn.Sequential, nn.Module]]

MeanStd = tuple[tuple[float, float, float], tuple[float, float, float]]

IMAGENET_MEAN_STD: MeanStd = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
"""torchvision/timm ImageNet statistics on RGB in [0, 1]."""


class UnknownBackboneError(KeyError):
    """Raised for a backbone name or weight source that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it one clean line
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class BackboneSpec:
    """Everything the rest of streetlens needs to know about one backbone.

    ``normalization`` is keyed by weight source because the same architecture can need
    different preprocessing per weight file (VGG16 Places365 comes from Caffe: BGR folded
    into conv1 by the converter, pixel scale 0..255, no std division).
    """

    name: str
    description: str
    builder: Builder
    weight_sources: tuple[str, ...]
    default_weights: str
    target_layer: str
    """``trunk.get_submodule`` path of the module whose output is the feature map (the
    trunk's last stage, so hooks and the trunk's output agree)."""
    last_block: tuple[str, ...]
    """Trunk children that fine-tuning unfreezes; they form the tail of the trunk."""
    feature_channels: int
    stride: int
    """Spatial stride of the target feature map w.r.t. the input."""
    rounding: str = "ceil"
    """How the stride rounds for sizes that are not multiples of it: "ceil" where every
    downsampling is a padded stride-2 conv/pool (ResNet, TF-"same" EfficientNet), "floor"
    where it is an unpadded 2×2 pool or patchify conv (VGG, ConvNeXt, tiny)."""
    input_size: int = 224
    normalization: dict[str, MeanStd] = field(default_factory=dict)
    original_classes: str | None = None
    featvis_layer: str | None = None
    """Layer that feature visualisation optimises, when not ``target_layer``: a layer whose
    activation saturates (EfficientNet's ReLU6 in ``bn2``) has no gradient to climb, so
    its pre-activation (``bn2.drop``, same channels) is used instead."""

    @property
    def visualised_layer(self) -> str:
        return self.featvis_layer or self.target_layer
    """What the original head predicts: "imagenet", "places365" or None."""

    # -- building -----------------------------------------------------------------
    def build(self, weights: str | None = None) -> Trunk:
        """Build the trunk with ``weights`` (a name from ``weight_sources``)."""
        trunk, _ = self.build_with_head(weights)
        return trunk

    def build_with_head(self, weights: str | None = None) -> tuple[Trunk, nn.Module]:
        """Trunk plus the pretrained network's own head (feature map -> original logits)."""
        weights = self.default_weights if weights is None else weights
        if weights not in self.weight_sources:
            raise UnknownBackboneError(
                f"backbone {self.name!r} has no weights {weights!r}; "
                f"choose one of {', '.join(self.weight_sources)}"
            )
        trunk, head = self.builder(weights)
        _no_inplace_relu(trunk)
        _no_inplace_relu(head)
        return trunk, head

    def build_original(self, weights: str | None = None) -> nn.Sequential:
        """The pretrained classifier as one module: ``Sequential(trunk=…, head=…)``."""
        trunk, head = self.build_with_head(weights)
        return nn.Sequential(OrderedDict(trunk=trunk, head=head))

    # -- geometry -----------------------------------------------------------------
    def feature_shape(self, input_size: int | tuple[int, int] | None = None) -> tuple[int, int, int]:
        """(C, H, W) of the target feature map for a square or (H, W) input."""
        size = self.input_size if input_size is None else input_size
        h, w = (size, size) if isinstance(size, int) else size
        if self.rounding == "floor":
            return (self.feature_channels, h // self.stride, w // self.stride)
        return (self.feature_channels, -(-h // self.stride), -(-w // self.stride))

    # -- preprocessing ------------------------------------------------------------
    def mean_std(self, weights: str | None = None) -> MeanStd:
        """Normalisation for RGB in [0, 1] that matches ``weights``."""
        weights = self.default_weights if weights is None else weights
        return self.normalization.get(weights, IMAGENET_MEAN_STD)

    @property
    def mean(self) -> tuple[float, float, float]:
        """Mean for the default weights (see ``mean_std`` for other sources)."""
        return self.mean_std()[0]

    @property
    def std(self) -> tuple[float, float, float]:
        """Std for the default weights (see ``mean_std`` for other sources)."""
        return self.mean_std()[1]

    # -- frozen / trainable split -------------------------------------------------
    def split(self, trunk: Trunk) -> tuple[nn.Sequential, nn.Sequential]:
        """Cut ``trunk`` into ``(frozen, last)`` with ``last(frozen(x)) == trunk(x)``.

        The returned modules share parameters with ``trunk`` (no copies), so training
        ``last`` trains the trunk. ``frozen``'s output is what training caches.
        """
        children = list(trunk.named_children())
        names = [n for n, _ in children]
        missing = [n for n in self.last_block if n not in names]
        if missing:
            raise ValueError(f"{self.name}: last_block {missing} are not children of the trunk")
        first = min(names.index(n) for n in self.last_block)
        return nn.Sequential(OrderedDict(children[:first])), nn.Sequential(OrderedDict(children[first:]))

    def last_block_parameters(self, trunk: Trunk) -> list[nn.Parameter]:
        """Parameters that fine-tuning unfreezes (those of ``last_block``)."""
        return [p for n in self.last_block for p in trunk.get_submodule(n).parameters()]


def _no_inplace_relu(module: nn.Module) -> None:
    """Make ReLUs out-of-place: in-place ones break backward hooks (Grad-CAM, guided
    backprop) and would overwrite a hooked activation. Costs only memory."""
    for m in module.modules():
        if isinstance(m, (nn.ReLU, nn.ReLU6)) and m.inplace:
            m.inplace = False


BACKBONES: dict[str, BackboneSpec] = {}


def register_backbone(name: str, **spec_fields) -> Callable[[Builder], Builder]:
    """Decorator registering ``builder(weights) -> (trunk, original_head)`` under ``name``.

    ``spec_fields`` are the remaining ``BackboneSpec`` fields (description, weight_sources,
    default_weights, target_layer, last_block, feature_channels, stride, …).
    """

    def decorate(builder: Builder) -> Builder:
        if name in BACKBONES:
            raise ValueError(f"backbone {name!r} registered twice")
        fields = dict(spec_fields)
        fields.setdefault("description", (builder.__doc__ or "").strip().splitlines()[0])
        fields["last_block"] = tuple(fields["last_block"])
        fields["weight_sources"] = tuple(fields["weight_sources"])
        spec = BackboneSpec(name=name, builder=builder, **fields)
        if spec.default_weights not in spec.weight_sources:
            raise ValueError(f"{name}: default weights not among weight_sources")
        BACKBONES[name] = spec
        return builder

    return decorate


def get_backbone(name: str) -> BackboneSpec:
    """The spec registered as ``name``; one clear error listing the choices otherwise."""
    _load_families()
    try:
        return BACKBONES[name]
    except KeyError:
        raise UnknownBackboneError(
            f"unknown backbone {name!r}; choose one of {', '.join(sorted(BACKBONES))}"
        ) from None


def list_backbones() -> list[str]:
    """Registered backbone names, sorted."""
    _load_families()
    return sorted(BACKBONES)


FAMILY_MODULES = ("analysis.nets.convnext", "analysis.nets.efficientnet", "analysis.nets.resnet",
                  "analysis.nets.tiny", "analysis.nets.vgg", "analysis.nets.wideresnet")
"""Modules whose builders register themselves; imported by name on first use, so the
registry depends on none of them (they depend on it) — adding a family = one module here."""


def _load_families() -> None:
    """Import the family modules so that their decorators have run."""
    for module in FAMILY_MODULES:
        importlib.import_module(module)
