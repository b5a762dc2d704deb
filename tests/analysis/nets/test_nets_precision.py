"""Precision rule: bf16 only where it is native, and not for depthwise backward passes on a CPU."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from analysis.nets import precision as P


def plain() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3))


def depthwise() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 8, 3, groups=8), nn.Conv2d(8, 4, 1))


def test_has_depthwise():
    assert P.has_depthwise(depthwise())
    assert not P.has_depthwise(plain())
    # grouped but not depthwise (groups < in_channels)
    assert not P.has_depthwise(nn.Sequential(nn.Conv2d(8, 8, 3, groups=2)))


def test_backward_precision_auto(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(P, "fast_bf16", lambda device: True)
    assert P.backward_precision("auto", plain(), cpu) == "bf16"
    assert P.backward_precision("auto", depthwise(), cpu) == "fp32"
    monkeypatch.setattr(P, "fast_bf16", lambda device: False)
    assert P.backward_precision("auto", plain(), cpu) == "fp32"
    # explicit choices pass through
    assert P.backward_precision("bf16", depthwise(), cpu) == "bf16"
    assert P.backward_precision("fp32", plain(), cpu) == "fp32"
    with pytest.raises(ValueError, match="unknown precision"):
        P.backward_precision("fp16", plain(), cpu)


def test_autocast_runs_convolutions_in_bf16_only_when_asked():
    net, x = plain(), torch.randn(1, 3, 8, 8)
    with P.autocast(x.device, "bf16"):
        assert net(x).dtype == torch.bfloat16
    with P.autocast(x.device, "fp32"):
        assert net(x).dtype == torch.float32


def test_auto_precision_follows_native_bf16(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(P, "fast_bf16", lambda device: True)
    assert P.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(P, "fast_bf16", lambda device: False)
    assert P.resolve_precision("auto", cpu) == "fp32"
    assert P.resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ValueError, match="unknown precision"):
        P.resolve_precision("fp8", cpu)
