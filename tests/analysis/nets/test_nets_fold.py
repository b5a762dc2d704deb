"""Batch norm folded into convolutions: hand-computed weights, a real backbone's features
unchanged, and the cases where folding would change the model (left as they are)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from analysis.nets.classifier import TwoHeadClassifier
from analysis.nets.fold import conv_bn_pairs, fold_batchnorm
from analysis.nets.registry import get_backbone


class Trunk(nn.Module):
    """``features`` as TwoHeadClassifier has it, around any module."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def features(self, x):
        return self.body(x)


def bn(c: int, seed: int = 0, spread: float = 1.0) -> nn.BatchNorm2d:
    """Statistics and affine parameters away from the identity (``spread`` scales how far)."""
    g = torch.Generator().manual_seed(seed)
    b = nn.BatchNorm2d(c)
    with torch.no_grad():
        b.weight.copy_(1 + spread * (torch.rand(c, generator=g) - 0.5))
        b.bias.copy_(spread * torch.randn(c, generator=g))
        b.running_mean.copy_(spread * torch.randn(c, generator=g))
        b.running_var.copy_(1 + spread * (torch.rand(c, generator=g) - 0.5))
    return b.eval()


def test_hand_computed_fold():
    conv = nn.Conv2d(1, 1, 1)
    norm = nn.BatchNorm2d(1, eps=1.0)
    with torch.no_grad():
        conv.weight.fill_(2.0)
        conv.bias.fill_(1.0)
        norm.weight.fill_(3.0)
        norm.bias.fill_(0.5)
        norm.running_mean.fill_(1.0)
        norm.running_var.fill_(3.0)
    model = Trunk(nn.Sequential(conv, norm)).eval()
    folded, count = fold_batchnorm(model, torch.zeros(1, 1, 2, 2))
    assert count == 1
    # s = 3 / √(3 + 1) = 1.5: w' = 2·1.5 = 3, b' = (1 − 1)·1.5 + 0.5 = 0.5
    assert folded.body[0].weight.item() == 3.0 and folded.body[0].bias.item() == 0.5
    assert isinstance(folded.body[1], nn.Identity)
    assert model.body[0].weight.item() == 2.0 and isinstance(model.body[1], nn.BatchNorm2d)  # the original kept
    x = torch.tensor([[[[1.0, 2.0], [-1.0, 0.0]]]])
    torch.testing.assert_close(folded.features(x), 3 * x + 0.5)


def test_real_backbone_features_unchanged_and_every_bn_folded():
    torch.manual_seed(0)
    model = TwoHeadClassifier(get_backbone("efficientnet_lite0").build("random"), 1280, 4, 2)
    for i, m in enumerate(model.modules()):  # statistics that are not the identity (mild: 49 layers deep)
        if isinstance(m, nn.BatchNorm2d):
            m.load_state_dict({**m.state_dict(), **bn(m.num_features, i, spread=0.2).state_dict()})
    model = model.eval().to(memory_format=torch.channels_last)
    x = torch.randn(3, 3, 96, 96).contiguous(memory_format=torch.channels_last)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    norms = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    folded, count = fold_batchnorm(model, x)
    assert count == norms == 49
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        want, got = model.features(x), folded.features(x)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
        torch.testing.assert_close(folded(x)[0], model(x)[0], rtol=1e-4, atol=1e-4)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


class Residual(nn.Module):
    """conv → BN, plus the conv's own output added again: folding would change the sum."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.norm = bn(2)

    def forward(self, x):
        y = self.conv(x)
        return self.norm(y) + y


class Shared(nn.Module):
    """One conv → BN pair called twice; another pair called once."""

    def __init__(self):
        super().__init__()
        self.conv, self.norm = nn.Conv2d(2, 2, 1), bn(2, 1)
        self.conv2, self.norm2 = nn.Conv2d(2, 2, 1), bn(2, 2)

    def forward(self, x):
        return self.norm2(self.conv2(self.norm(self.conv(self.norm(self.conv(x))))))


class OwnNorm(nn.BatchNorm2d):
    def forward(self, x):
        return super().forward(x) * 2


def test_folds_only_what_leaves_the_model_unchanged():
    x = torch.randn(2, 2, 5, 5)
    residual = Trunk(Residual()).eval()
    assert len(conv_bn_pairs(residual, residual.features, x)) == 1
    kept, count = fold_batchnorm(residual, x)  # found, folded, checked, refused
    assert kept is residual and count == 0
    shared = Trunk(Shared()).eval()
    folded, count = fold_batchnorm(shared, x)
    assert count == 1 and isinstance(folded.body.norm, nn.BatchNorm2d) and isinstance(folded.body.norm2, nn.Identity)
    torch.testing.assert_close(folded.features(x), shared.features(x), rtol=1e-5, atol=1e-5)
    own = nn.Sequential(nn.Conv2d(2, 2, 1), OwnNorm(2))
    own[1].load_state_dict(bn(2).state_dict())
    model = Trunk(own).eval()
    assert fold_batchnorm(model, x) == (model, 0)  # an unknown batch-norm subclass stays
    plain = Trunk(nn.Sequential(nn.Conv2d(2, 2, 1), nn.ReLU())).eval()
    assert fold_batchnorm(plain, x) == (plain, 0)
    with pytest.raises(ValueError, match="eval-mode"):
        fold_batchnorm(Trunk(nn.Sequential(nn.Conv2d(2, 2, 1), bn(2))).train(), x)


def test_a_batch_norm_left_training_is_refused_and_left_untouched():
    model = Trunk(nn.Sequential(nn.Conv2d(2, 2, 1), bn(2))).eval()
    model.body[1].train()  # the top level says eval, one batch norm does not
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="eval-mode"):
        fold_batchnorm(model, torch.randn(2, 2, 4, 4))
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_float64_model_folds_with_a_float64_example():
    model = Trunk(nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), bn(3), nn.ReLU())).double().eval()
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    folded, count = fold_batchnorm(model, x)
    assert count == 1 and folded.body[0].weight.dtype == torch.float64
    torch.testing.assert_close(folded.features(x), model.features(x), rtol=1e-10, atol=1e-10)
