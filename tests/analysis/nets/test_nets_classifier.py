from __future__ import annotations

import pytest
import torch

from analysis.nets import TwoHeadClassifier, build_classifier, get_backbone, two_head_loss


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_classifier("tiny_cnn", "random", n_classes=5, n_groups=2, hidden=16)


def test_shapes(model):
    x = torch.randn(4, 3, 32, 40)
    model.eval()
    fmap = model.features(x)
    assert fmap.shape == (4, *get_backbone("tiny_cnn").feature_shape((32, 40)))
    cls, grp = model(x)
    assert cls.shape == (4, 5) and grp.shape == (4, 2)
    assert model.embed(fmap).shape == (4, 32)


def test_head_of_features_equals_forward_in_eval(model):
    x = torch.randn(3, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        a = model(x)
        b = model.head(model.features(x))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_dropout_active_only_in_train(model):
    x = torch.randn(8, 3, 32, 32)
    model.train()
    torch.manual_seed(1)
    a = model(x)[0]
    torch.manual_seed(2)
    b = model(x)[0]
    assert not torch.allclose(a, b)


def test_loss_and_gradients_reach_trunk(model):
    x = torch.randn(4, 3, 32, 32)
    out = model(x)
    ct, gt = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 0, 1])
    loss = two_head_loss(out, ct, gt, weights=(1.0, 0.5))
    expected = (torch.nn.functional.cross_entropy(out[0], ct)
                + 0.5 * torch.nn.functional.cross_entropy(out[1], gt))
    assert torch.allclose(loss, expected)
    loss.backward()
    assert model.trunk.block1.conv.weight.grad.abs().sum() > 0
    assert model.group_out.weight.grad.abs().sum() > 0


def test_head_jacobian_matches_per_class_backward(model):
    """What all-class Grad-CAM relies on: d logits / d feature map through head only."""
    model.eval()
    fmap = model.features(torch.randn(1, 3, 32, 32)).detach()
    jac = torch.autograd.functional.jacobian(lambda f: model.head(f)[0], fmap)  # (1,5,1,C,h,w)
    f = fmap.clone().requires_grad_(True)
    model.head(f)[0][0, 3].backward()
    assert torch.allclose(jac[0, 3], f.grad)


def test_bad_feature_map_is_refused(model):
    with pytest.raises(ValueError, match=r"head expects \(N, 32, h, w\)"):
        model.head(torch.randn(1, 16, 4, 4))
    with pytest.raises(ValueError):
        TwoHeadClassifier(torch.nn.Identity(), 8, n_classes=0, n_groups=2)
