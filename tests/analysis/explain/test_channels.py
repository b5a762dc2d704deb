"""Channel attribution: gradient × activation identities and the dataset-wide summaries
(hand-computed, and streamed over a memmap with flat memory)."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from analysis.explain.channels import (
    attribution_from_jacobian,
    mean_channel_attribution,
    top_channels,
    top_group_channels,
)
from analysis.explain.gradcam import all_class_cams
from analysis.nets.classifier import TwoHeadClassifier
from analysis.nets.registry import get_backbone
from analysis.train.svm import LinearTwoHead

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/analysis/explain/conftest.py


def images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_completeness_for_a_head_linear_after_pooling():
    """Σ_c attr[k, c] = logit_k − bias contribution, for the SVM head (standardise → linear)."""
    torch.manual_seed(0)
    model = LinearTwoHead(get_backbone("tiny_cnn").build("random"), 32, n_classes=3, n_groups=2)
    with torch.no_grad():
        model.mean.uniform_(-0.1, 0.1)
        model.scale.uniform_(0.5, 2.0)
        for layer in (model.class_out, model.group_out):
            layer.weight.normal_()
            layer.bias.normal_()
    r = all_class_cams(model, images(3, 32))
    w = torch.cat([model.class_out.weight, model.group_out.weight])
    b = torch.cat([model.class_out.bias, model.group_out.bias])
    bias_contribution = b - w @ (model.mean / model.scale)
    logits = torch.cat([r.class_logits, r.group_logits], dim=1)
    torch.testing.assert_close(r.channel_attr.sum(dim=2), logits - bias_contribution, rtol=1e-5, atol=1e-5)


def test_equals_gradient_times_activation_per_class_autograd():
    torch.manual_seed(0)
    model = TwoHeadClassifier(get_backbone("tiny_cnn").build("random"), 32, n_classes=4, n_groups=2).eval()
    x = images(2, 40, seed=2)
    r = all_class_cams(model, x)
    feats = model.features(x).detach().requires_grad_()
    cls, grp = model.head(feats)
    logits = torch.cat([cls, grp], dim=1)
    for k in range(6):
        (g,) = torch.autograd.grad(logits[:, k].sum(), feats, retain_graph=True)
        torch.testing.assert_close(r.channel_attr[:, k], (feats * g).sum(dim=(2, 3)).detach(),
                                   rtol=1e-5, atol=1e-7)
    # not a constant: another image gives other attributions
    assert not torch.allclose(r.channel_attr[0], r.channel_attr[1])


def test_attribution_from_jacobian_hand_values_and_shape_check():
    a = torch.arange(8.0).view(1, 2, 2, 2)  # channel 0: 0..3, channel 1: 4..7
    jac = torch.zeros(1, 1, 2, 2, 2)
    jac[0, 0, 0] = 1.0  # Σ channel 0 = 6
    jac[0, 0, 1, 1, 1] = -2.0  # −2·7
    torch.testing.assert_close(attribution_from_jacobian(a, jac), torch.tensor([[[6.0, -14.0]]]))
    with pytest.raises(ValueError, match="does not fit"):
        attribution_from_jacobian(a, torch.zeros(1, 1, 3, 2, 2))


# -- dataset-wide -----------------------------------------------------------------------

# 5 images, K = 3 outputs (2 cities + 1 group), C = 4 channels
ATTR = np.zeros((5, 3, 4), dtype=np.float32)
ATTR[:, 0] = [[4, 1, 0, -1], [2, 3, 0, -1], [9, 9, 9, 9], [0, 0, 0, 0], [1, 1, 5, 1]]
ATTR[:, 1] = [[0, 0, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0], [5, 6, 7, 8]]
ATTR[:, 2] = [[1, 0, 0, 2], [0, 0, 0, 2], [0, 0, 0, 0], [3, 0, 0, 2], [0, 0, 0, 0]]
CITY = np.array([0, 0, 1, 0, 1])
GROUP = np.array([0, 0, 1, 0, 1])


def test_top_channels_hand_computed():
    # city 0 images 0, 1, 3: column 0 means = (2, 4/3, 0, −2/3)
    top = top_channels(ATTR, CITY, 0, n=3)
    assert [c for c, _ in top] == [0, 1, 2]
    np.testing.assert_allclose([m for _, m in top], [2.0, 4 / 3, 0.0])
    # city 1 images 2, 4: column 1 means = (3, 4, 5, 6)
    assert top_channels(ATTR, CITY, 1, n=2) == [(3, 6.0), (2, 5.0)]
    # only correct: city 0 images 0 and 1 → (3, 2, 0, −1)
    correct = np.array([True, True, True, False, False])
    assert top_channels(ATTR, CITY, 0, n=10, only_correct_mask=correct) == [
        (0, 3.0), (1, 2.0), (2, 0.0), (3, -1.0)]
    # groups: group 0 (images 0, 1, 3) uses column n_classes + 0 = 2 → (4/3, 0, 0, 2)
    top = top_group_channels(ATTR, GROUP, 0, n_classes=2, n=2)
    assert top[0] == (3, 2.0) and top[1][0] == 0 and top[1][1] == pytest.approx(4 / 3)


def test_top_channels_empty_and_bad_input():
    assert top_channels(ATTR, CITY, 0, only_correct_mask=np.zeros(5, bool)) == []
    assert top_channels(ATTR, np.zeros(5, int), 1) == []  # a city with no images
    with pytest.raises(ValueError, match="out of range"):
        top_channels(ATTR, CITY, 7)
    with pytest.raises(ValueError, match="labels must have shape"):
        top_channels(ATTR, CITY[:4], 0)
    with pytest.raises(ValueError, match="out of range"):
        top_group_channels(ATTR, GROUP, 1, n_classes=2)
    with pytest.raises(ValueError, match=r"\(N, K, C\)"):
        top_channels(ATTR[0], CITY, 0)


def test_streams_over_a_memmap_with_flat_memory(tmp_path):
    n, k, c = 4000, 12, 256  # 49 MB of float32 on disk
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    path = tmp_path / "attr.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, k, c))
    for start in range(0, n, 500):
        mm[start:start + 500] = rng.standard_normal((min(500, n - start), k, c), dtype=np.float32)
    mm.flush()
    del mm
    attr = np.load(path, mmap_mode="r")
    expected = np.asarray(attr[labels == 3, 3, :], dtype=np.float64).mean(axis=0)

    tracemalloc.start()
    mean, count = mean_channel_attribution(attr, labels, 3, 3, chunk_rows=64)
    top = top_channels(attr, labels, 3, n=5, chunk_rows=64)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert count == int((labels == 3).sum())
    np.testing.assert_allclose(mean, expected, rtol=1e-10)
    assert [ch for ch, _ in top] == list(np.argsort(-expected, kind="stable")[:5])
    assert peak < 1_000_000, f"peak {peak} bytes: the memmap was not streamed"


def test_accepts_torch_tensors():
    top = top_channels(torch.from_numpy(ATTR), torch.from_numpy(CITY), 1, n=1)
    assert top == [(3, 6.0)]


def test_one_pass_over_every_target_equals_one_pass_each():
    from analysis.explain.channels import mean_attributions, mean_channel_attribution, top_of

    rng = np.random.default_rng(4)
    attr = rng.normal(size=(53, 5, 9)).astype(np.float16)
    labels = rng.integers(0, 3, 53)
    correct = rng.random(53) > 0.3
    targets = [(labels == k, k) for k in range(3)] + [((labels == 1) & correct, 1), (labels == 9, 4)]
    got = mean_attributions(attr, targets, chunk_rows=7)  # chunks split the classes' rows
    for (mask, col), (mean, count) in zip(targets, got):
        want, want_count = mean_channel_attribution(attr, mask.astype(int), 1, col)
        assert count == want_count
        np.testing.assert_allclose(mean, want, rtol=1e-12, atol=1e-15)
        assert top_of(mean, count, 4) == top_of(want, want_count, 4) or count == 0
    assert got[-1][1] == 0 and not got[-1][0].any()  # a target without images: zeros, count 0
    with pytest.raises(ValueError, match="out of range"):
        mean_attributions(attr, [(labels == 0, 5)])
