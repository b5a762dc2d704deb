"""Genuinely pretrained weights that work offline, and the CSAIL checkpoint key mapping."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from analysis.nets import get_backbone
from analysis.nets.efficientnet import KeyMappingError, efficientnet_lite0_from_lukemelas, map_by_position
from analysis.nets.places365 import parse_categories
from analysis.nets.resnet import resnet50_from_state_dict
from analysis.nets.weights import fetch, load_state_dict_safely
from analysis.nets.wideresnet import wideresnet18_from_state_dict


def preprocess(image: np.ndarray, mean, std, size=224) -> torch.Tensor:
    img = Image.fromarray(image).convert("RGB").resize((size, size), Image.BILINEAR)
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255
    return ((x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None])[None]


@pytest.fixture(scope="module")
def lite0(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    sd = load_state_dict_safely(fetch("efficientnet_lite0_imagenet", root=root, offline_only=True))
    trunk, head = efficientnet_lite0_from_lukemelas(sd)
    return trunk.eval(), head.eval()


def test_efficientnet_lite0_classifies_cat_and_espresso(lite0):
    from skimage import data

    trunk, head = lite0
    mean, std = get_backbone("efficientnet_lite0").mean_std("imagenet")
    x = torch.cat([preprocess(data.chelsea(), mean, std), preprocess(data.coffee(), mean, std)])
    with torch.no_grad():
        fmap = trunk(x)
        probs = head(fmap).softmax(1)
    assert fmap.shape == (2, 1280, 7, 7)
    cat_top1 = int(probs[0].argmax())
    assert cat_top1 in range(281, 286)                      # tabby … Egyptian cat
    assert int(probs[1].argmax()) in (967, 968, 504)        # espresso / cup / coffee mug
    assert probs[0, 281:286].sum() > 0.5


def test_lukemelas_position_mapping_checks_shapes():
    source = {"a.weight": torch.zeros(2, 3), "a.num_batches_tracked": torch.tensor(0),
              "b.weight": torch.zeros(4)}
    target = {"x.weight": torch.zeros(2, 3), "y.weight": torch.zeros(4),
              "y.num_batches_tracked": torch.tensor(0)}
    assert list(map_by_position(source, target)) == ["x.weight", "y.weight"]
    with pytest.raises(KeyMappingError, match="does not fit"):
        map_by_position({"a": torch.zeros(3, 2), "b": torch.zeros(4)}, target)


# ---- CSAIL wideresnet18: an independent re-statement of CSAIL's wideresnet.py -------
class _CsailBasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class _CsailWideResNet18(nn.Module):
    """conv1/bn1/relu, NO maxpool, four stages of two basic blocks, global pool, fc."""

    def __init__(self, classes=365):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for i, (cout, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
            setattr(self, f"layer{i}", nn.Sequential(_CsailBasicBlock(cin, cout, stride),
                                                     _CsailBasicBlock(cout, cout, 1)))
            cin = cout
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(x.mean((2, 3))), x


def _randomize_bn(model: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def _csail_checkpoint(model, path, legacy_bn=True):
    sd = {f"module.{k}": v for k, v in model.state_dict().items()
          if not (legacy_bn and k.endswith("num_batches_tracked"))}  # 2017 files lack them
    torch.save({"epoch": 40, "arch": "wideresnet18", "state_dict": sd, "best_prec1": 54.6}, path)


def test_wideresnet18_checkpoint_keys_and_architecture(tmp_path):
    torch.manual_seed(0)
    reference = _CsailWideResNet18().eval()
    _randomize_bn(reference, 1)
    _csail_checkpoint(reference, tmp_path / "wideresnet18_places365.pth.tar")

    sd = load_state_dict_safely(tmp_path / "wideresnet18_places365.pth.tar")
    trunk, head = wideresnet18_from_state_dict(sd)  # strict=True: no missing/unexpected keys
    trunk.eval(), head.eval()
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        ref_logits, ref_map = reference(x)
        fmap = trunk(x)
        logits = head(fmap)
    assert fmap.shape == (2, 512, 4, 5)  # stride 16: no maxpool
    torch.testing.assert_close(fmap, ref_map)
    torch.testing.assert_close(logits, ref_logits)


def test_resnet50_places365_checkpoint_loads(tmp_path):
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.resnet50(num_classes=365).eval()  # CSAIL's arch
    _randomize_bn(reference, 2)
    _csail_checkpoint(reference, tmp_path / "resnet50_places365.pth.tar")
    trunk, head = resnet50_from_state_dict(load_state_dict_safely(tmp_path / "resnet50_places365.pth.tar"))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(head(trunk.eval()(x)), reference(x))


def test_places365_category_parsing():
    text = "/a/airfield 0\n/a/apartment_building/outdoor 2\n/a/alley 1\n"
    assert parse_categories(text) == ["airfield", "alley", "apartment_building/outdoor"]
