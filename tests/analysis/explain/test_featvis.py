"""lucent wrapper: batched rendering, seeding, hook clean-up, mode restore, normalisation.

Tiny CNN at 32 px and a handful of steps: each render takes well under a second."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from analysis.explain.featvis import (
    Normalized,
    image_param,
    layer_activation,
    render_features,
)
from analysis.explain.featvis_layers import lucent_layer_name
from analysis.nets import get_backbone

MEAN_STD = get_backbone("tiny_cnn").mean_std()


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/analysis/explain/conftest.py


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def pixels(images) -> list[np.ndarray]:
    return [np.asarray(im) for im in images]


def test_lucent_layer_name(model):
    assert lucent_layer_name(model, "block3") == "trunk_block3"  # spec.target_layer on a classifier
    assert lucent_layer_name(model, "trunk.block2.conv") == "trunk_block2_conv"
    assert lucent_layer_name(model.trunk, "block3") == "block3"
    with pytest.raises(ValueError, match="not found"):
        lucent_layer_name(model, "block9")


def test_returns_one_image_per_objective_batched(model):
    objectives = [("channel", 0), ("channel", 1), ("direction", np.linspace(0, 1, 32))]
    images = render_features(model, "block3", objectives, size=32, steps=3, batch=2,
                             mean_std=MEAN_STD, progress=False)
    assert len(images) == 3
    assert all(im.size == (32, 32) and im.mode == "RGB" for im in images)
    assert render_features(model, "block3", [], size=32, steps=3, progress=False) == []


def test_same_seed_same_pixels_and_rng_untouched(model):
    objectives = [("channel", 0), ("direction", np.linspace(1, 0, 32))]
    kw = dict(size=32, steps=4, batch=2, mean_std=MEAN_STD, progress=False)
    torch.manual_seed(123)
    np.random.seed(123)
    a = render_features(model, "block3", objectives, seed=7, **kw)
    after = torch.rand(1).item(), np.random.rand()
    torch.manual_seed(123)
    np.random.seed(123)
    assert (torch.rand(1).item(), np.random.rand()) == after  # caller's RNG streams untouched
    b = render_features(model, "block3", objectives, seed=7, **kw)
    c = render_features(model, "block3", objectives, seed=8, **kw)
    assert all(np.array_equal(x, y) for x, y in zip(pixels(a), pixels(b)))
    assert not np.array_equal(pixels(a)[0], pixels(c)[0])


def test_hooks_removed_modes_and_grads_restored(model):
    model.train()
    model.trunk.block1.eval()  # a mixed state must come back exactly
    model.trunk.block2.conv.weight.requires_grad_(False)
    render_features(model, "block3", [("channel", 2)], size=32, steps=2, progress=False)
    assert no_hooks(model)
    assert model.training and model.trunk.training and model.shared.training
    assert not model.trunk.block1.training and not model.trunk.block1.conv.training
    assert not model.trunk.block2.conv.weight.requires_grad
    assert model.trunk.block3.conv.weight.requires_grad
    assert all(p.grad is None for p in model.parameters())  # no weight gradients accumulated


class Boom(nn.Module):
    """Raises on the n-th forward: an error in the middle of the optimisation."""

    def __init__(self, n: int):
        super().__init__()
        self.n, self.calls = n, 0

    def forward(self, x):
        self.calls += 1
        if self.calls >= self.n:
            raise ValueError("boom")
        return x


def test_hooks_removed_after_exception_mid_render(model):
    model.trunk.add_module("boom", Boom(4))  # after block3: the probe and 2 steps pass
    model.train()
    with pytest.raises(ValueError, match="boom"):
        render_features(model, "trunk.boom", [("channel", 0)], size=32, steps=10, progress=False)
    assert model.trunk.boom.calls == 4
    assert no_hooks(model)
    assert all(m.training for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())


class Recorder(nn.Module):
    def __init__(self):
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        return x


@pytest.mark.parametrize("mean_std, centre", [(((0.5,) * 3, (0.5,) * 3), 0.0), (None, 0.5)])
def test_model_sees_the_backbones_normalisation(mean_std, centre):
    """Init images are ≈ 0.5 grey: 0.5/0.5 normalisation must give ≈ 0, nothing else
    (lucent's ImageNet normalisation on top would give ≈ −0.9)."""
    torch.manual_seed(0)
    rec = Recorder()
    trunk = nn.Sequential(OrderedDict(rec=rec, conv=nn.Conv2d(3, 4, 3), relu=nn.ReLU()))
    render_features(trunk, "relu", [("channel", 1)], size=32, steps=1, mean_std=mean_std,
                    transforms=[], progress=False)
    step_input = rec.inputs[-1]
    assert step_input.shape == (1, 3, 32, 32)  # fixed_image_size: no upsampling to 224
    assert abs(step_input.mean().item() - centre) < 0.05


def test_image_param_matches_lucents_on_cpu():
    from lucent.optvis import param

    torch.manual_seed(0)
    _, ours = image_param(24, 3, torch.device("cpu"))
    torch.manual_seed(0)
    _, theirs = param.image(24, batch=3)
    torch.testing.assert_close(ours(), theirs())


def test_optimised_image_excites_its_channel(model):
    """The optimisation did something: the rendered channel beats random and grey images."""
    images = render_features(model, "block3", [("channel", 0), ("channel", 1)], size=32, steps=20,
                             batch=2, mean_std=MEAN_STD, lr=0.1, transforms=[], progress=False)
    rendered = layer_activation(model, "block3", images, mean_std=MEAN_STD)
    torch.manual_seed(1)
    noise = layer_activation(model, "block3", torch.rand(16, 3, 32, 32), mean_std=MEAN_STD)
    grey = layer_activation(model, "block3", torch.full((1, 3, 32, 32), 0.5), mean_std=MEAN_STD)
    for i, c in enumerate((0, 1)):
        assert rendered[i, c] > noise[:, c].max()
        assert rendered[i, c] > 2 * grey[0, c]
    assert no_hooks(model)


def test_normalized_module():
    net = Normalized(nn.Identity(), ((0.5, 0.25, 0.0), (0.5, 0.5, 2.0)))
    out = net(torch.ones(1, 3, 2, 2))
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([1.0, 1.5, 0.5]))


def test_bad_objective_is_one_clear_error(model):
    with pytest.raises(ValueError, match="out of range"):
        render_features(model, "block3", [("channel", 99)], size=32, steps=1, progress=False)
    with pytest.raises(ValueError, match="32 channels"):
        render_features(model, "block3", [("direction", np.ones(5))], size=32, steps=1, progress=False)
    with pytest.raises(ValueError, match="unknown objective"):
        render_features(model, "block3", [("neuron", 1)], size=32, steps=1, progress=False)
    assert no_hooks(model)


def test_redirected_relu_revives_channels_dead_on_grey(model):
    """Channels 2 and 3 of this seeded tiny CNN are 0 on the grey start image: with
    lucent's plain ReLU gradient they never move; lucid's redirection optimises them."""
    kw = dict(size=32, steps=10, batch=2, mean_std=MEAN_STD, lr=0.1, transforms=[], progress=False)
    objectives = [("channel", 2), ("channel", 3)]
    grey = layer_activation(model, "block3", torch.full((1, 3, 32, 32), 0.5), mean_std=MEAN_STD)
    assert (grey[0, 2:4] == 0).all()
    plain = layer_activation(model, "block3", render_features(model, "block3", objectives,
                                                               redirect_relu=False, **kw), mean_std=MEAN_STD)
    redirected = layer_activation(model, "block3", render_features(model, "block3", objectives, **kw),
                                  mean_std=MEAN_STD)
    assert plain[0, 2] == 0 and plain[1, 3] == 0
    assert redirected[0, 2] > 0.05 and redirected[1, 3] > 0.05
    assert no_hooks(model)


@pytest.mark.parametrize("kind", ["dot_cossim", "cossim"])
def test_direction_objective_moves_along_the_direction(model, kind):
    direction = np.zeros(32, np.float32)
    direction[[0, 1]] = 1.0
    images = render_features(model, "block3", [("direction", direction)], size=32, steps=20, lr=0.1,
                             mean_std=MEAN_STD, transforms=[], direction_objective=kind, progress=False)
    grey = layer_activation(model, "block3", torch.full((1, 3, 32, 32), 0.5), mean_std=MEAN_STD)
    act = layer_activation(model, "block3", images, mean_std=MEAN_STD)

    def cos(a):
        return float(a @ torch.from_numpy(direction) / (a.norm() * np.linalg.norm(direction)))

    assert cos(act[0]) > cos(grey[0]) + 0.1
    with pytest.raises(ValueError, match="direction_objective"):
        render_features(model, "block3", [("direction", direction)], size=32, steps=1,
                        direction_objective="dot", progress=False)


def test_bf16_render_runs_in_bf16_and_still_excites_the_channel(model):
    seen = []
    handle = model.trunk.block3.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    try:
        images = render_features(model, "block3", [("channel", 0)], size=32, steps=20, lr=0.1,
                                 mean_std=MEAN_STD, transforms=[], precision="bf16", progress=False)
    finally:
        handle.remove()
    assert torch.bfloat16 in seen
    grey = layer_activation(model, "block3", torch.full((1, 3, 32, 32), 0.5), mean_std=MEAN_STD)
    act = layer_activation(model, "block3", images, mean_std=MEAN_STD)
    assert act[0, 0] > grey[0, 0] + 0.1
    assert no_hooks(model)
