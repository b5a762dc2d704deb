"""Guided backprop, guided Grad-CAM and captum Grad-CAM against hand-computed values and
pytorch-grad-cam."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from scipy.stats import spearmanr
from torch import nn

from analysis.explain.attribution import HeadSelect, module_hooks
from analysis.explain.randomize import randomized_copy
from analysis.explain.registry import get_method
from analysis.explain.targets import Target

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/analysis/explain/conftest.py


class OneReLU(nn.Module):
    """1×1 conv (3→2) → ReLU → flatten → two linear heads; fixed weights."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1, bias=False)
        self.relu = nn.ReLU()
        self.class_out = nn.Linear(4, 2, bias=False)
        self.group_out = nn.Linear(4, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[1.0, -1.0, 0.5], [-0.5, 1.0, 1.0]]).reshape(2, 3, 1, 1))
            self.class_out.weight.copy_(torch.tensor([[1.0, 2.0, -1.0, 0.5], [-2.0, 1.0, 1.0, -1.0]]))
            self.group_out.weight.fill_(1.0)

    def forward(self, x):
        h = self.relu(self.conv(x)).flatten(1)
        return self.class_out(h), self.group_out(h)


def test_guided_backprop_on_a_one_relu_model_is_hand_computed():
    # pixels p0 = (1, 0, 2), p1 = (0, 2, -1) over the 3 channels; image 1×2
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [2.0, -1.0]]).reshape(1, 3, 1, 2)
    # conv: unit0 = (2, -2.5) → ReLU open at p0 only; unit1 = (1.5, 1) → open at both.
    # class 0 weights on (u0p0, u0p1, u1p0, u1p1) = (1, 2, -1, .5)
    # plain gradient at the ReLU output, gated by the forward mask: (1, 0, -1, .5)
    # guided: also drop negative gradients:                          (1, 0,  0, .5)
    # back through the conv, input grad per pixel = W^T g:
    #   p0: 1·(1, -1, .5) + 0·(-.5, 1, 1) = (1, -1, .5)        → channel sum  .5
    #   p1: 0·(...)       + .5·(-.5, 1, 1) = (-.25, .5, .5)     → channel sum  .75
    model = OneReLU()
    guided = get_method("guided_backprop", model).attribute(x, Target("city", 0))
    torch.testing.assert_close(guided, torch.tensor([[[0.5, 0.75]]]))
    # the plain gradient differs exactly where a negative gradient was dropped (p0):
    #   p0: 1·(1, -1, .5) − 1·(-.5, 1, 1) = (1.5, -2, -.5) → −1;  p1 as above → .75
    plain = get_method("gradient", model, absolute=False).attribute(x, Target("city", 0))
    torch.testing.assert_close(plain, torch.tensor([[[-1.0, 0.75]]]))
    # class 1 weights (-2, 1, 1, -1): gated (−2, 0, 1, −1) → guided (0, 0, 1, 0)
    #   p0: 1·(-.5, 1, 1) → 1.5;  p1: 0
    torch.testing.assert_close(get_method("guided_backprop", model).attribute(x, Target("city", 1)),
                               torch.tensor([[[1.5, 0.0]]]))
    assert module_hooks(model) == {}


def test_guided_backprop_is_the_real_model_gradient_with_relus_clamped(model, x):
    """On the tiny CNN: guided backprop = autograd with every ReLU's gradient clamped at 0,
    computed here with our own temporary hooks."""
    ours = get_method("guided_backprop", model).attribute(x, Target("group", 1))
    model.eval()
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    handles = [r.register_full_backward_hook(lambda m, gi, go: (gi[0].clamp_min(0),)) for r in relus]
    try:
        inp = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(inp)[1][:, 1].sum(), inp)
    finally:
        for h in handles:
            h.remove()
    torch.testing.assert_close(ours, g.sum(1), rtol=1e-4, atol=1e-9)


def manual_gradcam(model, x, layer, k, head=0):
    """Grad-CAM by hand at trunk stage ``layer``: run the trunk in two parts, take the
    gradient of logit k w.r.t. that stage's output, weight channels by its spatial mean."""
    model.eval()
    names = [n for n, _ in model.trunk.named_children()]
    cut = names.index(layer) + 1
    a = x
    for n in names[:cut]:
        a = model.trunk.get_submodule(n)(a)
    a = a.detach().requires_grad_(True)
    rest = a
    for n in names[cut:]:
        rest = model.trunk.get_submodule(n)(rest)
    logit = model.head(rest)[head][:, k]
    (g,) = torch.autograd.grad(logit.sum(), a)
    return (g.mean((2, 3), keepdim=True) * a).sum(1).detach()


@pytest.mark.parametrize("layer", [None, "block2"])
def test_gradcam_captum_matches_a_hand_computed_gradcam(model, x, layer):
    raw = get_method("gradcam_captum", model, target_layer=layer, relu=False).attribute(x, Target("city", 2))
    relu = get_method("gradcam_captum", model, target_layer=layer).attribute(x, Target("city", 2))
    cam = manual_gradcam(model, x, layer or "block3", 2)
    up = F.interpolate(cam[:, None], size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    torch.testing.assert_close(raw, up, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(relu, F.interpolate(cam.clamp_min(0)[:, None], size=(32, 32), mode="bilinear",
                                                   align_corners=False)[:, 0], rtol=1e-4, atol=1e-8)
    assert (raw < 0).any() and (relu >= 0).all()


def test_gradcam_captum_agrees_with_pytorch_grad_cam_up_to_normalisation(model, x):
    """pytorch-grad-cam min-max scales each (ReLU'd) map, then resizes bilinearly: an
    affine transform per image of ours, which we fit and check to be exact."""
    for head, k in (("city", 1), ("city", 3), ("group", 0)):
        ours = get_method("gradcam_captum", model).attribute(x, Target(head, k))
        with GradCAM(model=HeadSelect(model, head), target_layers=[model.trunk.block3]) as cam:
            ref = cam(input_tensor=x.clone(), targets=[ClassifierOutputTarget(k)] * len(x))
        for i in range(len(x)):
            a, r = ours[i].flatten().numpy().astype(np.float64), ref[i].flatten().astype(np.float64)
            assert a.max() > 0, "pick a target with some positive evidence"
            design = np.stack([a, np.ones_like(a)], 1)
            (scale, shift), *_ = np.linalg.lstsq(design, r, rcond=None)
            assert scale > 0
            np.testing.assert_allclose(design @ [scale, shift], r, atol=1e-4)
    assert module_hooks(model) == {}


def test_guided_gradcam_is_guided_backprop_times_gradcam(model, x):
    for target in (Target("city", 0), Target("group", 1)):
        ggc = get_method("guided_gradcam", model).attribute(x, target)
        gb = get_method("guided_backprop", model).attribute(x, target)
        cam = get_method("gradcam_captum", model).attribute(x, target)
        torch.testing.assert_close(ggc, gb * cam, rtol=1e-4, atol=1e-12)
    other = get_method("guided_gradcam", model, target_layer="block2").attribute(x, Target("city", 0))
    assert other.shape == (3, 32, 32) and not torch.allclose(other, ggc)


def test_guided_backprop_barely_notices_a_randomised_head(model, x):
    """Adebayo et al. (2018), reproduced: after re-initialising the head, guided backprop
    still looks like the original (it mostly reconstructs the image), while the plain
    gradient does not. This is why the reliability page shows the randomisation test."""
    rnd = randomized_copy(model, ["class_out", "shared.0"], seed=0)

    def rhos(name):
        a = get_method(name, model).attribute(x, Target("city", 1))
        b = get_method(name, rnd).attribute(x, Target("city", 1))
        return [spearmanr(a[i].flatten().numpy(), b[i].flatten().numpy()).statistic for i in range(len(x))]

    guided, plain = rhos("guided_backprop"), rhos("gradient")
    assert min(guided) > 0.8 and max(plain) < 0.5, (guided, plain)
