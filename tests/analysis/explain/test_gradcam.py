"""All-class Grad-CAM: pytorch-grad-cam as oracle (tiny CNN and a real backbone),
hand-computed values on fixed-weight models, batched == per-image, views, hygiene."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from analysis.explain.attribution import HeadSelect
from analysis.explain.gradcam import CamResult, all_class_cams, contrastive_map, display_map, gradcam_map
from analysis.explain.scaling import normalise, upsample
from analysis.explain.targets import HEADS
from analysis.nets.classifier import TwoHeadClassifier
from analysis.nets.registry import get_backbone

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/analysis/explain/conftest.py


def tiny_model(n_classes: int = 4, n_groups: int = 2) -> TwoHeadClassifier:
    torch.manual_seed(0)
    return TwoHeadClassifier(get_backbone("tiny_cnn").build("random"), 32,
                             n_classes=n_classes, n_groups=n_groups)


def images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def oracle(model: TwoHeadClassifier, target_layer: str, x: torch.Tensor, head: int, k: int):
    """pytorch-grad-cam's final maps (N, H, W) and its Grad-CAM weights (N, C) for output
    ``k`` of ``head``."""
    # HeadSelect: the model seen through one head (pytorch-grad-cam wants one logits tensor)
    cam = GradCAM(model=HeadSelect(model, HEADS[head]), target_layers=[model.trunk.get_submodule(target_layer)])
    try:
        maps = cam(x, [ClassifierOutputTarget(k)] * len(x))
        weights = np.mean(cam.activations_and_grads.gradients[0].numpy(), axis=(2, 3))
    finally:
        cam.activations_and_grads.release()
    return maps, weights


def assert_matches_oracle(model, target_layer, x, n_classes, n_groups):
    ours = all_class_cams(model, x)
    size = tuple(x.shape[-2:])
    outputs = [(0, k) for k in range(n_classes)] + [(1, g) for g in range(n_groups)]
    for index, (head, k) in enumerate(outputs):
        ref_maps, ref_weights = oracle(model, target_layer, x, head, k)
        alpha = ours.gradients[:, index].numpy()
        scale = np.abs(ref_weights).max()
        np.testing.assert_allclose(alpha, ref_weights, rtol=0, atol=1e-5 * scale)
        mine = display_map(gradcam_map(ours.raw, index), size).numpy()
        assert mine.shape == ref_maps.shape
        np.testing.assert_allclose(mine, ref_maps, rtol=0, atol=1e-5, err_msg=f"output {index}")


def test_oracle_tiny_cnn_every_output_of_both_heads():
    model = tiny_model()
    x = images(3, 40)
    assert_matches_oracle(model, get_backbone("tiny_cnn").target_layer, x, 4, 2)


@pytest.mark.parametrize("backbone, weights, size", [
    ("efficientnet_lite0", "imagenet", 160),
    ("resnet18_places365", "random", 96),
])
def test_oracle_real_backbone(backbone, weights, size):
    spec = get_backbone(backbone)
    torch.manual_seed(0)
    model = TwoHeadClassifier(spec.build(weights), spec.feature_channels, n_classes=4, n_groups=2)
    # Freeze all but the target stage: pytorch-grad-cam then back-propagates only from the
    # target layer on (seconds, not a minute); gradients w.r.t. A are unchanged by that.
    target = model.trunk.get_submodule(spec.target_layer)
    for p in model.trunk.parameters():
        p.requires_grad_(False)
    for p in target.parameters():
        p.requires_grad_(True)
    x = images(2, size, seed=1)
    assert_matches_oracle(model, spec.target_layer, x, 4, 2)


def test_result_shapes_and_logits_equal_forward():
    model = tiny_model().eval()
    x = images(2, 32)
    r = all_class_cams(model, x)
    assert isinstance(r, CamResult)
    assert r.raw.shape == (2, 6, 8, 8) and r.raw.dtype == torch.float32
    assert r.gradients.shape == r.channel_attr.shape == (2, 6, 32)
    assert r.pooled.shape == (2, 32) and r.features.shape == (2, 32, 8, 8)
    assert (r.n_classes, r.n_groups, r.group_index(1)) == (4, 2, 5)
    with torch.no_grad():
        cls, grp = model(x)
    torch.testing.assert_close(r.class_logits, cls)
    torch.testing.assert_close(r.group_logits, grp)
    torch.testing.assert_close(r.pooled, model.embed(model.features(x)))
    assert all_class_cams(model, x, keep_features=False).features is None
    assert not r.raw.requires_grad and not r.channel_attr.requires_grad


def test_batched_equals_per_image_loop():
    model = tiny_model()
    x = images(4, 40, seed=3)
    batch = all_class_cams(model, x)
    singles = [all_class_cams(model, x[i:i + 1]) for i in range(4)]
    for field in ("raw", "class_logits", "group_logits", "pooled", "gradients", "channel_attr", "features"):
        torch.testing.assert_close(getattr(batch, field),
                                   torch.cat([getattr(s, field) for s in singles]),
                                   rtol=1e-5, atol=1e-6, msg=field)


class HandModel(nn.Module):
    """1×1-conv trunk (1 → 2 channels, A_0 = x, A_1 = −x) and a head given as a function,
    so the Jacobian is known by hand."""

    def __init__(self, head):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        self._head = head

    def features(self, x):
        return self.conv(x)

    def embed(self, a):
        return a.mean(dim=(2, 3))

    def head(self, a):
        return self._head(self, a)

    def forward(self, x):
        return self.head(self.features(x))


X = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # mean 2.5


def test_hand_computed_gap_linear_head():
    wc = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    bc = torch.tensor([0.5, 0.0])
    wg = torch.tensor([[3.0, 1.0]])

    def head(m, a):
        p = m.embed(a)
        return p @ wc.T + bc, p @ wg.T

    r = all_class_cams(HandModel(head), X)
    x = X[0, 0]
    # ∂logit_k/∂A[c,x,y] = W[k,c]/4 everywhere, so α = W/4 and raw_k = Σ_c W[k,c]/4·A_c
    torch.testing.assert_close(r.gradients[0], torch.tensor([[0.25, 0.5], [0.0, -0.25], [0.75, 0.25]]))
    torch.testing.assert_close(r.raw[0], torch.stack([-x / 4, x / 4, x / 2]))
    # attr[k,c] = Σ_xy A_c·W[k,c]/4 = W[k,c]·mean(A_c), mean(A) = (2.5, −2.5)
    torch.testing.assert_close(r.channel_attr[0], torch.tensor([[2.5, -5.0], [0.0, 2.5], [7.5, -2.5]]))
    torch.testing.assert_close(r.class_logits[0], torch.tensor([-2.0, 2.5]))
    torch.testing.assert_close(r.group_logits[0], torch.tensor([5.0]))
    torch.testing.assert_close(gradcam_map(r.raw, 0)[0], torch.zeros(2, 2))
    torch.testing.assert_close(contrastive_map(r.raw, 1, 0)[0], x / 2)


def test_hand_computed_head_without_pooling():
    """Nothing assumes global average pooling: a position-weighted head and a quadratic one."""
    v = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 2.0]]])  # (C, h, w)

    def head(m, a):
        spatial = (a * v).sum(dim=(1, 2, 3))[:, None]  # ∂/∂A = v
        quadratic = (a[:, 0] ** 2).sum(dim=(1, 2))[:, None]  # ∂/∂A_0 = 2·A_0, ∂/∂A_1 = 0
        return spatial, quadratic

    r = all_class_cams(HandModel(head), X)
    x = X[0, 0]
    # spatial: α = mean_xy v = (0.25, 0.5); raw = 0.25·x + 0.5·(−x) = −x/4
    torch.testing.assert_close(r.gradients[0, 0], torch.tensor([0.25, 0.5]))
    torch.testing.assert_close(r.raw[0, 0], -x / 4)
    # quadratic: α_0 = mean(2x) = 5, α_1 = 0; raw = 5x; attr_0 = Σ 2x² = 60
    torch.testing.assert_close(r.gradients[0, 1], torch.tensor([5.0, 0.0]))
    torch.testing.assert_close(r.raw[0, 1], 5 * x)
    # attr for spatial: A_0[0,0]·1 = 1, A_1[1,1]·2 = −8
    torch.testing.assert_close(r.channel_attr[0], torch.tensor([[1.0, -8.0], [60.0, 0.0]]))
    torch.testing.assert_close(r.class_logits[0], torch.tensor([-7.0]))
    torch.testing.assert_close(r.group_logits[0], torch.tensor([30.0]))


def test_mean_pooled_head_takes_the_general_jacobians_values(monkeypatch):
    """TwoHeadClassifier's pooled-head path (the Jacobian of the pooled vector) against the
    general one (the Jacobian of the whole feature map), for plain and differentiable results."""
    model = tiny_model(5, 3)
    x = images(4, 40, seed=11)
    assert model.pooled_head() is not None
    fast = all_class_cams(model, x)
    fast_graph = all_class_cams(model, x.clone().requires_grad_(), create_graph=True)
    monkeypatch.setattr(model, "pooled_head", lambda: None)
    general = all_class_cams(model, x)
    for field in ("raw", "gradients", "channel_attr", "class_logits", "group_logits", "pooled", "features"):
        torch.testing.assert_close(getattr(fast, field), getattr(general, field), rtol=1e-5, atol=1e-7, msg=field)
        torch.testing.assert_close(getattr(fast_graph, field).detach(), getattr(general, field),
                                   rtol=1e-5, atol=1e-7, msg=field)
    # differentiable through the trunk: the same input gradient as the general path's
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    all_class_cams(model, xa, create_graph=True).raw.pow(2).sum().backward()
    monkeypatch.undo()
    all_class_cams(model, xb, create_graph=True).raw.pow(2).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-7)


def test_pooled_head_only_where_the_head_reads_the_spatial_mean():
    class OwnEmbed(TwoHeadClassifier):
        def embed(self, feature_map):
            return feature_map.amax(dim=(2, 3))

    class OwnHead(TwoHeadClassifier):
        def head(self, feature_map):
            return super().head(feature_map * 2)

    model = tiny_model()
    assert OwnEmbed(model.trunk, 32, 4, 2).pooled_head() is None
    assert OwnHead(model.trunk, 32, 4, 2).pooled_head() is None
    model.pool = nn.AdaptiveAvgPool2d(2)
    assert model.pooled_head() is None


def test_contrastive_equals_gradcam_with_weight_difference():
    model = tiny_model()
    r = all_class_cams(model, images(3, 40, seed=5))
    for a, b in [(0, 1), (2, 0), (3, 5), (4, 5)]:
        expected = torch.einsum("nc,nchw->nhw", r.gradients[:, a] - r.gradients[:, b], r.features).clamp(min=0)
        torch.testing.assert_close(contrastive_map(r.raw, a, b), expected, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(contrastive_map(r.raw, a, a), torch.zeros_like(expected))


def test_no_hooks_modes_restored_and_inputs_untouched():
    model = tiny_model()
    model.train()
    model.trunk.eval()  # a frozen trunk next to a training head: both flags must survive
    before = {name: m.training for name, m in model.named_modules()}
    x = images(2, 32, seed=7)
    x_copy = x.clone()
    r = all_class_cams(model, x)
    assert {name: m.training for name, m in model.named_modules()} == before
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
        assert not m._backward_hooks and not getattr(m, "_backward_pre_hooks", {})
    assert torch.equal(x, x_copy) and x.grad is None
    assert all(p.grad is None for p in model.parameters())
    # the model was in train mode (dropout) yet the maps are the eval-mode ones
    model.eval()
    torch.testing.assert_close(all_class_cams(model, x).raw, r.raw)


def test_create_graph_keeps_values_and_is_differentiable():
    torch.manual_seed(0)
    model = TwoHeadClassifier(get_backbone("tiny_cnn").build("random"), 32, 3, 2, hidden=8).double()
    x = torch.randn(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    plain = all_class_cams(model, x.detach())
    graph = all_class_cams(model, x, create_graph=True)
    torch.testing.assert_close(graph.raw.detach(), plain.raw)
    assert graph.raw.requires_grad and graph.channel_attr.requires_grad

    def fn(inp):
        r = all_class_cams(model, inp, create_graph=True)
        return r.raw, r.channel_attr

    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_bad_input_is_refused_clearly():
    model = tiny_model()
    with pytest.raises(ValueError, match="x must be"):
        all_class_cams(model, torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="model is on cpu"):
        all_class_cams(model, torch.empty(1, 3, 32, 32, device="meta"))
    with pytest.raises(TypeError, match="features/head/embed"):
        all_class_cams(nn.Conv2d(3, 3, 1), torch.randn(1, 3, 8, 8))
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        all_class_cams(model, torch.randn(1, 3, 32, 32))
    with pytest.raises(IndexError):
        gradcam_map(torch.zeros(1, 6, 4, 4), 6)


# -- views ------------------------------------------------------------------------------

def test_normalise_formula_and_zero_map():
    m = torch.tensor([[[1.0, 3.0], [5.0, 2.0]], [[0.0, 0.0], [0.0, 0.0]]])
    out = normalise(m)
    torch.testing.assert_close(out[0], (m[0] - 1) / (1e-7 + 4))
    torch.testing.assert_close(out[1], torch.zeros(2, 2))
    np.testing.assert_allclose(normalise(m.numpy()), out.numpy())


@pytest.mark.parametrize("src, dst", [((7, 7), (224, 224)), ((5, 8), (37, 61)), ((12, 12), (5, 7))])
def test_upsample_matches_cv2_linear(src, dst):
    m = np.random.default_rng(0).random((2, *src), dtype=np.float32)
    ours = upsample(m, dst)
    assert isinstance(ours, np.ndarray) and ours.shape == (2, *dst) and ours.dtype == np.float32
    for i in range(2):
        np.testing.assert_allclose(ours[i], cv2.resize(m[i], dst[::-1]), atol=2e-6)
    torch.testing.assert_close(upsample(torch.from_numpy(m), dst), torch.from_numpy(ours))


def test_views_accept_numpy_memmaps(tmp_path):
    r = all_class_cams(tiny_model(), images(2, 32))
    path = tmp_path / "raw.npy"
    np.save(path, r.raw.numpy())
    stored = np.load(path, mmap_mode="r")
    np.testing.assert_allclose(gradcam_map(stored, 3), gradcam_map(r.raw, 3).numpy())
    np.testing.assert_allclose(display_map(gradcam_map(stored, 3), 32),
                               display_map(gradcam_map(r.raw, 3), 32).numpy(), atol=1e-6)
