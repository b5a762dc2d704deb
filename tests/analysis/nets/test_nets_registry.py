"""Every registered backbone builds with random weights, produces its documented feature
map and splits into frozen + last parts that compose back to the trunk."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from analysis.nets import BACKBONES, UnknownBackboneError, get_backbone, list_backbones

EXPECTED = {  # name: (channels, stride, rounding, target-layer type) from the brief / DESIGN
    "vgg16": (512, 16, "floor", nn.ReLU),
    "resnet18_places365": (512, 16, "ceil", nn.Sequential),
    "resnet50_places365": (2048, 32, "ceil", nn.Sequential),
    "resnet50": (2048, 32, "ceil", nn.Sequential),
    "convnext_tiny": (768, 32, "floor", nn.Sequential),
    "efficientnet_lite0": (1280, 32, "ceil", None),
    "tiny_cnn": (32, 4, "floor", nn.Sequential),
}


def test_all_required_backbones_registered():
    assert set(EXPECTED) <= set(list_backbones())
    assert set(list_backbones()) == set(BACKBONES)


@pytest.fixture(scope="module")
def built():
    torch.manual_seed(0)
    out = {}
    for name in EXPECTED:
        trunk = get_backbone(name).build("random").eval()
        out[name] = trunk
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_trunk_shape_split_and_target(name, built):
    spec, trunk = get_backbone(name), built[name]
    channels, stride, rounding, target_type = EXPECTED[name]
    assert (spec.feature_channels, spec.stride, spec.rounding) == (channels, stride, rounding)
    size = (70, 99) if name != "tiny_cnn" else (35, 50)  # not multiples of the stride
    x = torch.randn(2, 3, *size)

    captured = {}
    target = trunk.get_submodule(spec.target_layer)
    if target_type is not None:
        assert isinstance(target, target_type)
    handle = target.register_forward_hook(lambda m, i, o: captured.setdefault("map", o))
    try:
        with torch.no_grad():
            y = trunk(x)
    finally:
        handle.remove()

    assert y.shape == (2, *spec.feature_shape(size))
    if rounding == "ceil":
        assert y.shape == (2, channels, -(-size[0] // stride), -(-size[1] // stride))
    else:
        assert y.shape == (2, channels, size[0] // stride, size[1] // stride)
    assert spec.feature_shape(size[0] // stride * stride) == (channels,) + (size[0] // stride,) * 2
    # the target layer's output IS the trunk output (what attribution hooks see)
    assert torch.equal(captured["map"], y)

    frozen, last = spec.split(trunk)
    with torch.no_grad():
        assert torch.equal(last(frozen(x)), y)
    # the split shares parameters with the trunk and covers all of them
    trunk_ids = {id(p) for p in trunk.parameters()}
    split_ids = {id(p) for p in frozen.parameters()} | {id(p) for p in last.parameters()}
    assert split_ids == trunk_ids
    last_ids = {id(p) for p in spec.last_block_parameters(trunk)}
    assert last_ids and last_ids <= {id(p) for p in last.parameters()}
    assert not last_ids & {id(p) for p in frozen.parameters()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_fields(name, built):
    spec = get_backbone(name)
    assert spec.default_weights in spec.weight_sources and "random" in spec.weight_sources
    mean, std = spec.mean, spec.std
    assert len(mean) == len(std) == 3 and all(s > 0 for s in std)
    assert spec.feature_shape()[0] == spec.feature_channels
    # no in-place ReLU anywhere: they break backward hooks used by the explainers
    assert not any(getattr(m, "inplace", False) for m in built[name].modules()
                   if isinstance(m, (nn.ReLU, nn.ReLU6)))


def test_feature_shape_documented_at_224():
    assert get_backbone("vgg16").feature_shape(224) == (512, 14, 14)
    assert get_backbone("resnet18_places365").feature_shape(224) == (512, 14, 14)
    assert get_backbone("resnet50").feature_shape(224) == (2048, 7, 7)
    assert get_backbone("efficientnet_lite0").feature_shape(224) == (1280, 7, 7)


def test_preprocessing_depends_on_weights():
    vgg = get_backbone("vgg16")
    assert vgg.mean_std("imagenet") == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    mean, std = vgg.mean_std("places365")  # Caffe: 255*x - RGB means
    assert std == (1 / 255,) * 3 and mean[0] == pytest.approx(123.68 / 255)
    assert get_backbone("efficientnet_lite0").mean_std("imagenet") == ((0.5,) * 3, (0.5,) * 3)


def test_unknown_names_give_one_clear_line():
    with pytest.raises(UnknownBackboneError, match="unknown backbone 'nope'; choose one of .*vgg16"):
        get_backbone("nope")
    with pytest.raises(UnknownBackboneError, match="has no weights 'places365'"):
        get_backbone("tiny_cnn").build("places365")


def test_original_head_on_tiny():
    torch.manual_seed(0)
    model = get_backbone("tiny_cnn").build_original().eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 10)
    assert torch.equal(model.get_submodule("trunk.block3.conv").weight,
                       model.trunk.block3.conv.weight)
