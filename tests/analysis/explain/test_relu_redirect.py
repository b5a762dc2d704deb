"""Lucid's ReLU gradient redirection: exactly the reference rule, and it revives dead channels."""
from __future__ import annotations

import torch

from analysis.explain.relu_redirect import RedirectedReLU


def test_redirected_relu_gradient():
    x = torch.tensor([[-1.0, 2.0], [-1.0, -2.0]], requires_grad=True)
    y = RedirectedReLU.apply(x, float("inf"))
    torch.testing.assert_close(y, torch.relu(x))
    # loss lowers both outputs of row 0 (blocked where clipped), raises row 1's outputs
    (y * torch.tensor([[1.0, 1.0], [-1.0, -1.0]])).sum().backward()
    # row 0: true gradient gets through at x=2, so it is used as is; row 1: all clipped,
    # nothing gets through → redirected (the push upwards passes)
    torch.testing.assert_close(x.grad, torch.tensor([[0.0, 1.0], [-1.0, -1.0]]))


def test_redirected_relu_matches_the_reference_formula():
    """The fast backward (masks computed once, redirection only when some element is dead)
    gives exactly lucid's rule, written out plainly here, for ReLU and ReLU6 alike."""
    def reference(x, grad, upper):
        true_grad = grad * ((x > 0) & (x < upper))
        pushing_out = ((x <= 0) & (grad > 0)) | ((x >= upper) & (grad < 0))
        redirected = grad.masked_fill(pushing_out, 0.0)
        dims = tuple(range(1, grad.dim()))
        alive = true_grad.abs().sum(dim=dims, keepdim=True) > 0 if dims else true_grad.abs().sum() > 0
        return torch.where(alive, true_grad, redirected)

    gen = torch.Generator().manual_seed(0)
    for upper in (float("inf"), 6.0):
        for shape in [(), (5,), (4, 3), (4, 3, 5, 5)]:
            for trial in range(12):
                x = torch.randn(shape, generator=gen) * 4
                if trial % 2 and x.dim():
                    x[0] = -x[0].abs() - 0.1  # element 0 dead: redirected
                if trial % 3 == 0 and x.dim() > 1:
                    x[1] = 7.0  # element 1 above a ReLU6's top
                grad = torch.randn(shape, generator=gen)
                leaf = x.clone().requires_grad_(True)
                RedirectedReLU.apply(leaf, upper).backward(grad)
                assert torch.equal(leaf.grad, reference(x, grad, upper)), (upper, shape, trial)
