"""Concept removal on stored activations == removal on the full feature map through the
model's own head; hand-computed values on a linear head; curves, intervals, completeness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from analysis.explain.concepts.effect import (area, bootstrap_mean, class_effects, completeness,
                                              concept_curves, concept_means, curve_areas, head_outputs,
                                              removal_effects)
from analysis.nets import TwoHeadClassifier


@pytest.fixture
def mlp_model():
    """A two-head classifier on 6 channels with an MLP head (ReLU), fixed random weights."""
    torch.manual_seed(3)
    m = TwoHeadClassifier(nn.Identity(), 6, 4, 2, hidden=8, dropout=0.0)
    return m.double().eval()


@pytest.fixture
def concepts():
    """Maps U (5 images, 3 concepts, 4×4) and unit directions W (3, 6), non-negative; the
    activations A = U·W + a non-negative residual."""
    rng = np.random.default_rng(0)
    U = rng.random((5, 3, 4, 4))
    W = rng.random((3, 6))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    A = np.einsum("nkhw,kc->nchw", U, W) + 0.1 * rng.random((5, 6, 4, 4))
    return U, W, A


def test_removal_on_pooled_features_equals_removal_on_the_feature_map(mlp_model, concepts):
    U, W, A = concepts
    got = removal_effects(mlp_model, A.mean((2, 3)), concept_means(U), W, "city")
    for n in range(len(A)):  # the oracle: the full (C, h, w) map, one image and concept at a time
        a = torch.from_numpy(A[n:n + 1])
        with torch.no_grad():
            z0 = mlp_model.head(a)[0]
            for k in range(3):
                removed = a - torch.from_numpy(np.einsum("hw,c->chw", U[n, k], W[k]))[None]
                z = mlp_model.head(removed)[0]
                np.testing.assert_allclose(got.logits[n, k], (z0 - z)[0].numpy(), atol=1e-10)
                np.testing.assert_allclose(got.probs[n, k],
                                           (z0.softmax(1) - z.softmax(1))[0].numpy(), atol=1e-10)


def test_removal_is_the_same_in_chunks_and_for_the_group_head(mlp_model, concepts):
    U, W, A = concepts
    f, m = A.mean((2, 3)), concept_means(U)
    whole = removal_effects(mlp_model, f, m, W, "group")
    parts = removal_effects(mlp_model, f, m, W, "group", chunk=2)
    np.testing.assert_allclose(whole.probs, parts.probs, atol=1e-12)
    assert whole.probs.shape == (5, 3, 2)
    np.testing.assert_allclose(whole.probs.sum(2), 0, atol=1e-12)  # probabilities move, not appear


def test_hand_computed_removal_on_a_linear_head():
    m = TwoHeadClassifier(nn.Identity(), 2, 2, 2, hidden=2, dropout=0.0).double().eval()
    m.shared = nn.Identity()
    with torch.no_grad():
        m.class_out.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
        m.class_out.bias.zero_()
    W = np.eye(2)
    features = np.array([[3.0, 1.0]])  # logits (6, 1)
    means = np.array([[1.0, 0.5]])  # concept 0 contributes 1 to channel 0, concept 1 0.5 to channel 1
    eff = removal_effects(m, features, means, W, "city")
    np.testing.assert_allclose(eff.logits[0], [[2.0, 0.0], [0.0, 0.5]])
    p = lambda z: np.exp(z) / np.exp(z).sum()  # noqa: E731
    np.testing.assert_allclose(eff.probs[0, 0], p(np.array([6.0, 1.0])) - p(np.array([4.0, 1.0])))


def test_head_outputs_refuses_an_unknown_head(mlp_model):
    with pytest.raises(ValueError, match="head must be one of city, group"):
        head_outputs(mlp_model, np.zeros((1, 6)), "street")


def test_removal_checks_shapes(mlp_model):
    with pytest.raises(ValueError, match="need features"):
        removal_effects(mlp_model, np.zeros((2, 6)), np.zeros((3, 3)), np.zeros((3, 6)))


def test_bootstrap_interval():
    assert bootstrap_mean(np.full(10, 0.25)) == (0.25, 0.25, 0.25)
    mean, lo, hi = bootstrap_mean(np.arange(100.0), seed=1)
    assert mean == 49.5 and lo < mean < hi and 40 < lo and hi < 60
    assert bootstrap_mean(np.arange(100.0), seed=1) == (mean, lo, hi)
    assert all(np.isnan(bootstrap_mean(np.array([]))))


def test_class_effects_average_each_class_over_its_own_images():
    eff = np.zeros((4, 2, 2))
    eff[0, 1, 0], eff[1, 1, 0] = 0.4, 0.2  # images 0, 1 are class 0: concept 1 helps class 0
    eff[2, 0, 1] = 0.3  # image 2 (class 1): concept 0 helps class 1
    eff[0, 0, 1] = 9.0  # a class-0 image's effect on class 1 counts only in "pull"
    t = class_effects(eff, np.array([0, 0, 1, 1]), ["a", "b"]).set_index(["concept", "target"])
    assert t.loc[(1, "a"), "effect"] == pytest.approx(0.3)
    assert t.loc[(0, "b"), "effect"] == pytest.approx(0.15)
    assert t.loc[(0, "b"), "pull"] == pytest.approx((0.3 + 9.0) / 4)
    assert t.loc[(1, "a"), "images"] == 2
    assert t.loc[(1, "a"), "low"] <= 0.3 <= t.loc[(1, "a"), "high"]


def test_area_of_a_curve():
    assert area(np.array([1.0, 0.0])) == pytest.approx(0.5)
    assert area(np.array([1.0, 1.0, 1.0])) == pytest.approx(1.0)


def test_deletion_in_ranked_order_falls_faster_than_random():
    # a linear head where concept 2 alone carries class 0: ranked deletion loses it at once
    m = TwoHeadClassifier(nn.Identity(), 3, 2, 2, hidden=3, dropout=0.0).double().eval()
    m.shared = nn.Identity()
    with torch.no_grad():
        m.class_out.weight.copy_(torch.tensor([[0.0, 0.0, 4.0], [1.0, 1.0, 0.0]]))
        m.class_out.bias.zero_()
    W = np.eye(3)
    means = np.tile([1.0, 1.0, 1.0], (6, 1))
    labels = np.zeros(6, int)
    curves = concept_curves(m, means.copy(), means, W, labels, {0: [2, 0, 1]}, ["a", "b"], random_orders=6)
    aucs = curve_areas(curves).set_index(["target", "curve", "order"])["auc"]
    assert aucs[("a", "deletion", "ranked")] < aucs[("a", "deletion", "random")]
    assert aucs[("a", "insertion", "ranked")] > aucs[("a", "insertion", "random")]
    d = curves[(curves.curve == "deletion") & (curves.order == "ranked")].sort_values("step")["p"].to_numpy()
    p0 = np.exp(4) / (np.exp(4) + np.exp(2))
    np.testing.assert_allclose(d[:2], [p0, 1 / (1 + np.exp(2))])  # logits (4, 2), then (0, 2)


def test_completeness_is_one_when_the_concepts_rebuild_the_activations(mlp_model, concepts):
    U, W, _ = concepts
    A = np.einsum("nkhw,kc->nchw", U, W)  # no residual
    f = A.mean((2, 3))
    _, p = head_outputs(mlp_model, f, "city")
    labels = p.argmax(1)
    t = completeness(mlp_model, f, concept_means(U), W, labels, ["a", "b", "c", "d"]).set_index("target")
    assert t.loc["all", "accuracy"] == 1.0 and t.loc["all", "ratio"] == 1.0
    t0 = completeness(mlp_model, f, np.zeros_like(concept_means(U)), W, labels, ["a", "b", "c", "d"])
    assert t0.set_index("target").loc["all", "concept_accuracy"] < 1.0
