"""Vanilla gradient and integrated gradients against hand-computed oracles."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from analysis.explain.registry import get_method
from analysis.explain.targets import Target

MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/analysis/explain/conftest.py


def manual_grad(model, x, head, k):
    """d logit_k / d x by plain autograd, model in eval (dropout off)."""
    model.eval()
    inp = x.clone().requires_grad_(True)
    logits = model(inp)[head]
    idx = torch.as_tensor(k).expand(len(x))
    (g,) = torch.autograd.grad(logits[torch.arange(len(x)), idx].sum(), inp)
    return g


@pytest.mark.parametrize("target,head,k", [(Target("city", 2), 0, 2), (Target("group", 1), 1, 1),
                                           (Target("city", [1, 0, 3]), 0, [1, 0, 3])])
def test_gradient_equals_autograd_of_the_selected_logit(model, x, target, head, k):
    saliency = get_method("gradient", model).attribute(x, target)
    signed = get_method("gradient", model, absolute=False).attribute(x, target)
    model.train()  # attribute must switch to eval itself
    g = manual_grad(model, x, head, k)
    torch.testing.assert_close(saliency, g.abs().amax(1))
    torch.testing.assert_close(signed, g.sum(1))
    assert (saliency >= 0).all() and (signed < 0).any()


def test_integrated_gradients_completeness(model, x):
    """Sum of the map = f(x) − f(baseline) − delta, and delta (the integration error) is
    small. Checked with a zero baseline, where the random tiny CNN's logit difference is
    large enough to measure relative error; with the (default) black baseline its logit
    difference is ~1e-4 and only the identity with delta is meaningful."""
    model.eval()
    with torch.no_grad():
        f_x = model(x)[0][:, 1]
        f_zero = model(torch.zeros_like(x))[0][:, 1]
        black = (-torch.tensor(MEAN_STD[0]) / torch.tensor(MEAN_STD[1])).reshape(1, 3, 1, 1)
        f_black = model(black.expand_as(x))[0][:, 1]
    ig = get_method("integrated_gradients", model, baseline="zero", n_steps=64, internal_batch_size=64)
    maps, delta = ig.attribute_with_delta(x, Target("city", 1))
    torch.testing.assert_close(maps.sum((1, 2)) - delta, f_x - f_zero, rtol=1e-4, atol=1e-8)
    assert (delta.abs() <= 0.03 * (f_x - f_zero).abs()).all(), (delta, f_x - f_zero)
    torch.testing.assert_close(maps, ig.attribute(x, Target("city", 1)))  # same maps without delta
    # internal batching bounds memory, not the result
    small = get_method("integrated_gradients", model, baseline="zero", n_steps=64,
                       internal_batch_size=3).attribute(x, Target("city", 1))
    torch.testing.assert_close(small, maps, rtol=1e-4, atol=1e-9)
    # black baseline (pixel 0 before normalisation): the identity still holds exactly
    maps, delta = get_method("integrated_gradients", model, mean_std=MEAN_STD,
                             n_steps=16).attribute_with_delta(x, Target("city", 1))
    torch.testing.assert_close(maps.sum((1, 2)) - delta, f_x - f_black, rtol=1e-4, atol=1e-8)


class Linear(nn.Module):
    """Two linear heads on the flattened image, fixed weights."""

    def __init__(self):
        super().__init__()
        self.class_out = nn.Linear(12, 2)
        self.group_out = nn.Linear(12, 2)
        with torch.no_grad():
            self.class_out.weight.copy_(torch.tensor([
                [1.0, -2.0, 0.5, 0.0, 3.0, 1.0, -1.0, 2.0, 0.0, 0.5, -0.5, 1.0],
                [0.0, 1.0, 1.0, 1.0, -1.0, 0.0, 2.0, 0.0, 1.0, 0.0, 0.0, -3.0],
            ]))
            self.class_out.bias.copy_(torch.tensor([0.7, -0.2]))
            self.group_out.weight.fill_(0.25)
            self.group_out.bias.zero_()

    def forward(self, x):
        return self.class_out(x.flatten(1)), self.group_out(x.flatten(1))


def test_integrated_gradients_on_a_linear_model_is_exact():
    """For f = w·x + b, IG = (x − baseline)·w per element; summed over the 3 channels."""
    x = torch.tensor([[[[1.0, 2.0], [0.0, -1.0]],
                       [[0.5, 0.5], [1.0, 2.0]],
                       [[-1.0, 0.0], [3.0, 1.0]]]])            # (1, 3, 2, 2)
    model = Linear()
    # zero baseline, class 0:  x·w per element, then channel sums by hand:
    # ch0: [1*1, 2*-2, 0*.5, -1*0] = [1, -4, 0, 0]
    # ch1: [.5*3, .5*1, 1*-1, 2*2]  = [1.5, .5, -1, 4]
    # ch2: [-1*0, 0*.5, 3*-.5, 1*1] = [0, 0, -1.5, 1]
    expected = torch.tensor([[[2.5, -3.5], [-2.5, 5.0]]])
    ig = get_method("integrated_gradients", model, baseline="zero", n_steps=5)
    torch.testing.assert_close(ig.attribute(x, Target("city", 0)), expected)
    # black baseline under normalisation: (x − b_c)·w, b_c = −mean_c / std_c
    b = (-torch.tensor(MEAN_STD[0]) / torch.tensor(MEAN_STD[1])).reshape(1, 3, 1, 1)
    w1 = model.class_out.weight[1].detach().reshape(1, 3, 2, 2)
    ig = get_method("integrated_gradients", model, mean_std=MEAN_STD, n_steps=3)
    maps = ig.attribute(x, Target("city", 1))
    torch.testing.assert_close(maps, ((x - b) * w1).sum(1))
    # group head, constant baseline
    maps = get_method("integrated_gradients", model, baseline=1.0, n_steps=2).attribute(x, Target("group", 1))
    torch.testing.assert_close(maps, ((x - 1.0) * 0.25).sum(1))


def test_integrated_gradients_options_are_checked(model):
    for bad in ({"n_steps": 0}, {"internal_batch_size": 0}):
        with pytest.raises(ValueError):
            get_method("integrated_gradients", model, **bad)
    with pytest.raises(ValueError, match="broadcast"):
        get_method("integrated_gradients", model, baseline=torch.zeros(5)).attribute(
            torch.randn(1, 3, 32, 32), Target("city", 0))
