"""The attribution registry and the contract every method keeps (shape, batching, no
mutation, no hooks left, mode restored, clear errors), the all-class Grad-CAM adapter,
occlusion, display scaling and the model-randomisation helpers."""
from __future__ import annotations

import copy
from collections import OrderedDict

import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from analysis.explain.attribution import (
    AttributionMethod,
    HeadSelect,
    attribution_session,
    module_hooks,
    resolve_baseline,
)
from analysis.explain.occlusion import default_window
from analysis.explain.randomize import cascade, cascade_order, randomized_copy, trunk_stages_top_down
from analysis.explain.registry import (METHODS, UnknownMethodError, get_method, list_methods, method_class,
                                       register_method)
from analysis.explain.scaling import to_display
from analysis.explain.targets import Target
from analysis.nets import TwoHeadClassifier, get_backbone

ALL = ["gradcam", "gradcam_captum", "gradient", "guided_backprop", "guided_gradcam",
       "integrated_gradients", "occlusion"]
FAST = {"integrated_gradients": {"n_steps": 8}, "occlusion": {"window": 12, "stride": 6}}
"""Cheaper settings for the contract tests (the defaults are tested for shape only)."""


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/analysis/explain/conftest.py


def method(name, model, **kw):
    return get_method(name, model, **{**FAST.get(name, {}), **kw})


# ------------------------------------------------------------------------- registry
def test_registry_lists_every_method_with_ui_metadata():
    assert list_methods() == ALL
    for name in ALL:
        cls = method_class(name)
        assert issubclass(cls, AttributionMethod) and cls.name == name
        assert cls.label and cls.resolution in ("input", "feature")
        assert isinstance(cls.needs_layer, bool)
    assert METHODS["gradcam"].resolution == "feature" and METHODS["gradcam"].needs_layer
    assert METHODS["integrated_gradients"].resolution == "input"


def test_unknown_method_names_the_choices(model):
    with pytest.raises(UnknownMethodError, match="integrated_gradients"):
        get_method("lime", model)


def test_register_twice_is_refused():
    class Other(AttributionMethod):
        def _attribute(self, x, forward, target):
            return x[:, 0]

    with pytest.raises(ValueError, match="twice"):
        register_method("gradient")(Other)


def test_get_method_passes_layer_and_options(model):
    m = get_method("gradcam_captum", model, target_layer="block2")
    assert m.layer is model.trunk.block2 and m.layer_name == "trunk.block2"
    assert get_method("gradcam_captum", model).layer is model.trunk.block3
    assert get_method("gradient", model, target_layer="block3", absolute=False).signed
    with pytest.raises(ValueError, match="no layer"):
        get_method("guided_gradcam", model, target_layer="block9")
    with pytest.raises(ValueError, match="trunk output"):
        get_method("gradcam", model, target_layer="block2")


def test_head_select_returns_one_head(model, x):
    model.eval()
    with torch.no_grad():
        city, group = model(x)
        assert torch.equal(HeadSelect(model, "city")(x), city)
        assert torch.equal(HeadSelect(model, "group")(x), group)
    with pytest.raises(ValueError):
        HeadSelect(model, "country")


# ------------------------------------------------------------------------- contract
@pytest.mark.parametrize("name", ALL)
def test_shape_finite_device_dtype(name, model, x):
    maps = method(name, model).attribute(x, Target("city", 1))
    assert maps.shape == (3, 32, 32) and maps.dtype == x.dtype and maps.device == x.device
    assert torch.isfinite(maps).all() and maps.abs().sum() > 0
    assert not maps.requires_grad
    rect = method(name, model).attribute(torch.randn(2, 3, 32, 48), Target("group", 0))
    assert rect.shape == (2, 32, 48)


@pytest.mark.parametrize("name", ALL)
def test_batched_equals_per_sample_loop(name, model, x):
    m = method(name, model)
    for target in (Target("city", 2), Target("group", 1), Target("city", [0, 3, 1])):
        batched = m.attribute(x, target)
        ids = target.per_sample(len(x))
        single = torch.cat([m.attribute(x[i:i + 1], Target(target.head, ids[i]))
                            for i in range(len(x))])
        torch.testing.assert_close(batched, single, rtol=1e-4, atol=max(1e-5 * float(single.abs().max()), 1e-7))


@pytest.mark.parametrize("name", ALL)
def test_inputs_are_not_mutated(name, model, x):
    before = x.clone()
    method(name, model).attribute(x, Target("city", 0))
    assert torch.equal(x, before) and not x.requires_grad and x.grad is None
    leaf = x.clone().requires_grad_(True)
    method(name, model).attribute(leaf, Target("group", 1))
    assert leaf.grad is None and torch.equal(leaf.detach(), before)


@pytest.mark.parametrize("name", ALL)
def test_hooks_removed_and_modes_restored(name, model, x):
    model.train()
    model.trunk.block1.eval()  # a mixed state, as with frozen layers while training
    modes = {n: m.training for n, m in model.named_modules()}
    seen = []
    user_hook = model.class_out.register_forward_hook(lambda *a: seen.append(1))
    assert module_hooks(model) == {"class_out": 1}
    a = method(name, model).attribute(x, Target("city", 3))
    assert module_hooks(model) == {"class_out": 1}  # ours gone, the caller's kept
    assert {n: m.training for n, m in model.named_modules()} == modes
    user_hook.remove()
    assert module_hooks(model) == {}
    b = method(name, model).attribute(x, Target("city", 3))  # eval inside: dropout off, deterministic
    torch.testing.assert_close(a, b)


class Boom(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")


@pytest.mark.parametrize("name", ALL)
def test_no_hooks_left_when_the_model_raises(name):
    torch.manual_seed(0)
    trunk = nn.Sequential(OrderedDict(block1=get_backbone("tiny_cnn").build("random").block1, boom=Boom()))
    broken = TwoHeadClassifier(trunk, 16, 4, 2).train()
    with pytest.raises(RuntimeError, match="boom"):
        method(name, broken).attribute(torch.randn(1, 3, 32, 32), Target("city", 0))
    assert module_hooks(broken) == {}
    assert all(m.training for m in broken.modules())


def test_session_removes_hooks_added_inside_even_on_error(model):
    model.train()
    with pytest.raises(RuntimeError):
        with attribution_session(model):
            assert not model.training and torch.is_grad_enabled()
            model.trunk.block2.register_forward_hook(lambda *a: None)
            model.trunk.block2.relu.register_full_backward_hook(lambda *a: None)
            model.class_out.register_forward_pre_hook(lambda *a: None, with_kwargs=True)
            raise RuntimeError
    assert module_hooks(model) == {} and model.training
    assert all(not m._forward_hooks_with_kwargs and not m._forward_pre_hooks_with_kwargs
               for m in model.modules())


@pytest.mark.parametrize("name", ALL)
def test_bad_targets_and_inputs_raise_value_error(name, model, x):
    m = method(name, model)
    for target in (Target("city", 4), Target("group", 2), Target("city", -1), Target("city", [0, 1]),
                   Target("city", [0, 1, 9]), ("city", 0), 1, 1.5, True, "city"):
        with pytest.raises(ValueError):
            m.attribute(x, target)
    nan = x.clone()
    nan[0, 0, 0, 0] = float("nan")
    for bad in (x[0], x[:, :1], x.to(torch.int64), nan, x[:0], x.numpy()):
        with pytest.raises(ValueError):
            m.attribute(bad, Target("city", 0))
    with pytest.raises(ValueError, match="device"):
        method(name, copy.deepcopy(model).to("meta")).attribute(x, Target("city", 0))
    with pytest.raises(ValueError, match="float64"):
        m.attribute(x.double(), Target("city", 0))


def test_tensor_targets_are_accepted(model, x):
    m = get_method("gradient", model)
    torch.testing.assert_close(m.attribute(x, Target("city", torch.tensor([1, 1, 1]))),
                               m.attribute(x, Target("city", 1)))
    torch.testing.assert_close(m.attribute(x, Target("group", torch.tensor(1))),
                               m.attribute(x, Target("group", 1)))


@pytest.mark.parametrize("name", ["gradient", "gradcam", "guided_backprop"])
def test_works_for_callers_without_autograd(name, model, x):
    """The dashboard computes under no_grad / inference_mode; attribution must still work."""
    expected = get_method(name, model).attribute(x, Target("city", 1))
    with torch.no_grad():
        torch.testing.assert_close(get_method(name, model).attribute(x, Target("city", 1)), expected)
    with torch.inference_mode():
        frozen = x.clone()
        got = get_method(name, model).attribute(frozen, Target("city", 1))
    torch.testing.assert_close(got, expected)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


def test_default_settings_run_at_small_size(model):
    """Default options (IG 50 steps, scaled occlusion window) on one small image."""
    img = torch.randn(1, 3, 32, 32)
    for name in ("integrated_gradients", "occlusion"):
        assert get_method(name, model).attribute(img, Target("city", 0)).shape == (1, 32, 32)


# ------------------------------------------------------------- Grad-CAM (all-class)
@pytest.mark.parametrize("relu", [True, False])
def test_gradcam_adapter_matches_captum(relu, model, x):
    """The all-class module (head Jacobian, no hooks) and captum's hooked LayerGradCam are
    independent implementations: they must agree for both heads and per-sample targets."""
    for target in (Target("city", 2), Target("group", 1), Target("city", [3, 0, 1])):
        ours = get_method("gradcam", model, relu=relu).attribute(x, target)
        ref = get_method("gradcam_captum", model, relu=relu).attribute(x, target)
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-7)
    if not relu:
        assert (ours < 0).any()


# ----------------------------------------------------------------------- occlusion
class LinearModel(nn.Module):
    """logits = W · flatten(x) + b for both heads: every attribution is hand-computable."""

    def __init__(self, w_city, w_group):
        super().__init__()
        self.w_city, self.w_group = w_city, w_group

    def forward(self, x):
        return x.flatten(1) @ self.w_city.flatten(1).T, x.flatten(1) @ self.w_group.flatten(1).T


def test_occlusion_on_a_linear_model_is_the_occluded_contribution():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(2, 3, 4, 4, generator=g)
    model = LinearModel(w, w[:1])
    x = torch.randn(2, 3, 4, 4, generator=g)
    # 1-pixel window: the logit drop is that pixel's contribution, summed over channels
    maps = get_method("occlusion", model, window=1, stride=1, baseline=0.5).attribute(x, Target("city", 1))
    torch.testing.assert_close(maps, ((x - 0.5) * w[1]).sum(1))
    # 2-pixel windows, stride 2: each pixel gets its whole block's contribution
    maps = get_method("occlusion", model, window=2, stride=2, baseline="zero").attribute(x, Target("city", 0))
    block = nn.functional.avg_pool2d((x * w[0]).sum(1, keepdim=True), 2) * 4
    torch.testing.assert_close(maps, nn.functional.interpolate(block, scale_factor=2)[:, 0])


def test_occlusion_window_scales_with_the_image():
    assert default_window(224, 224) == (32, 16)
    assert default_window(448, 300) == (43, 21)
    assert default_window(32, 32) == (5, 2)
    m = get_method("occlusion", nn.Linear(1, 1), window=64)
    with pytest.raises(ValueError, match="larger than the image"):
        m.window_for(32, 32)
    with pytest.raises(ValueError):
        get_method("occlusion", nn.Linear(1, 1), window=4, stride=8)


# ---------------------------------------------------------------- helpers
def test_black_baseline_is_black_before_normalisation():
    x = torch.randn(2, 3, 5, 5)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    black = resolve_baseline("black", x, (mean, std))
    pixels = black * torch.tensor(std).reshape(1, 3, 1, 1) + torch.tensor(mean).reshape(1, 3, 1, 1)
    torch.testing.assert_close(pixels, torch.zeros_like(x))
    assert torch.equal(resolve_baseline("black", x, None), torch.zeros_like(x))
    assert torch.equal(resolve_baseline(torch.ones(3, 1, 1), x, None), torch.ones_like(x))
    for bad in ("grey", torch.ones(2, 2)):
        with pytest.raises(ValueError):
            resolve_baseline(bad, x, None)


def test_to_display_scales_each_map_robustly():
    m = torch.zeros(2, 10, 10)
    m[0] = torch.linspace(-1, 1, 100).reshape(10, 10)
    m[0, 0, 0] = -100.0  # one outlier must not wash out the rest
    d = to_display(m, percentile=98)
    assert d.shape == m.shape and d.min() >= 0 and d.max() <= 1
    assert d[0, 5, 5] > 0.01 and d[0, 0, 0] == 1
    assert torch.equal(d[1], torch.zeros(10, 10))  # all-zero map stays zero
    s = to_display(m[0], signed=True, percentile=100)
    assert s.shape == (10, 10) and s.min() == -1 and 0 < s.max() < 0.02
    with pytest.raises(ValueError):
        to_display(m, percentile=0)


# ------------------------------------------------------------ model randomisation
def test_cascade_order_is_head_first_then_trunk_top_down(model):
    assert trunk_stages_top_down(model) == ["trunk.block3", "trunk.block2", "trunk.block1"]
    assert cascade_order(model) == ["class_out", "group_out", "shared.0",
                                    "trunk.block3", "trunk.block2", "trunk.block1"]


def test_randomized_copy_changes_only_the_named_layers(model):
    original = {k: v.clone() for k, v in model.state_dict().items()}
    rnd = randomized_copy(model, ["class_out", "trunk.block2"], seed=5)
    assert rnd is not model
    for k, v in rnd.state_dict().items():
        changed = k.startswith(("class_out.", "trunk.block2."))
        assert (not torch.equal(v, original[k])) == changed, k
    for k, v in model.state_dict().items():  # the original is untouched
        assert torch.equal(v, original[k]), k
    again = randomized_copy(model, ["class_out", "trunk.block2"], seed=5)
    assert all(torch.equal(a, b) for a, b in zip(rnd.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match="no layer"):
        randomized_copy(model, ["trunk.block7"])
    with pytest.raises(ValueError):
        randomized_copy(model, "everything")


def test_cascade_steps_extend_each_other(model):
    steps = list(cascade(model, seed=1))
    assert [name for name, _ in steps] == cascade_order(model)
    first, third = steps[0][1].state_dict(), steps[2][1].state_dict()
    assert torch.equal(first["class_out.weight"], third["class_out.weight"])
    assert not torch.equal(first["shared.0.weight"], third["shared.0.weight"])
    full = randomized_copy(model, "cascade-from-top", seed=1)
    assert all(not torch.equal(v, model.state_dict()[k]) for k, v in full.state_dict().items())


def _rho(a, b):
    return spearmanr(a.flatten().numpy(), b.flatten().numpy()).statistic


@pytest.mark.parametrize("name", ["gradient", "gradcam_captum"])
def test_randomised_model_maps_correlate_less(name, model, x):
    """Adebayo et al.'s check: a faithful map changes when the weights are randomised."""
    original = get_method(name, model).attribute(x, Target("city", 1))
    assert _rho(original, get_method(name, model).attribute(x, Target("city", 1))) == pytest.approx(1.0)
    for layers in (["class_out", "shared.0"], "cascade-from-top"):
        rnd = randomized_copy(model, layers, seed=0)
        randomised = get_method(name, rnd).attribute(x, Target("city", 1))
        rhos = [_rho(original[i], randomised[i]) for i in range(len(x))]
        assert max(rhos) < 0.9, (layers, rhos)
