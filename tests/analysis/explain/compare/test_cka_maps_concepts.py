"""CKA, map correlations, concept matching and agreement against known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from analysis.explain.compare.agreement import agreement_table
from analysis.explain.compare.cka import linear_cka
from analysis.explain.compare.concepts import concept_similarity, match_concepts
from analysis.explain.compare.maps import map_correlations


def test_cka_is_one_for_itself_a_rotation_and_a_scaling():
    x = np.random.default_rng(0).normal(size=(50, 6))
    q = ortho_group.rvs(6, random_state=1)
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, x @ q) == pytest.approx(1.0)
    assert linear_cka(x, 3.0 * x) == pytest.approx(1.0)
    assert linear_cka(x, np.random.default_rng(2).normal(size=(50, 6))) < 0.5


def test_cka_hand_computed_tiny_case():
    x = np.array([[1.0], [0.0], [-1.0]])  # centred already
    y = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])  # centred already
    # YᵀX = [2, 1]ᵀ → ‖·‖² = 5; XᵀX = [[2]] → 2; YᵀY = [[2, 1], [1, 2]] → √10
    assert linear_cka(x, y) == pytest.approx(5 / (2 * np.sqrt(10)))
    with pytest.raises(ValueError, match="same images"):
        linear_cka(x, y[:2])


def test_map_correlation_same_flipped_and_other_resolution():
    m = np.arange(49, dtype=float).reshape(1, 7, 7)
    assert map_correlations(m, m)[0] == pytest.approx(1.0)
    assert map_correlations(m, -m)[0] == pytest.approx(-1.0)
    big = np.repeat(np.repeat(m, 2, axis=1), 2, axis=2)  # the same map at 14×14
    assert map_correlations(m, big)[0] > 0.95
    assert np.isnan(map_correlations(np.zeros((1, 7, 7)), m)[0])


def test_concept_matching_recovers_a_permutation():
    rng = np.random.default_rng(0)
    maps_a = rng.random((10, 5, 7, 7))
    perm = np.array([3, 0, 4, 1, 2])
    maps_b = maps_a[:, perm] * 2.0 + 0.1  # model B: the same concepts, reordered and rescaled
    m = match_concepts(concept_similarity(maps_a, maps_b))
    pairs = {int(r.concept_a): int(r.concept_b) for r in m.itertuples()}
    assert pairs == {int(perm[j]): j for j in range(5)}
    assert m["similarity"].min() == pytest.approx(1.0) and m["shared"].all()
    extra = np.concatenate([maps_b, rng.random((10, 1, 7, 7))], axis=1)  # B has one concept A lacks
    m = match_concepts(concept_similarity(maps_a, extra))
    assert m[m["concept_a"] == -1]["concept_b"].tolist() == [5]


def test_agreement_cells():
    t = agreement_table(["a", "b", "c", "d", "e"], [1, 1, 0, 0, 1], [1, 0, 1, 0, 1]).set_index("cell")
    assert t["images"].tolist() == [2, 1, 1, 1]
    assert t.loc["both right", "ids"] == ["a", "e"] and t.loc["only A right", "ids"] == ["b"]
    assert t.loc["both wrong", "share"] == 0.2


def test_layer_features_are_the_pooled_stage_outputs_and_the_same_model_has_cka_one_on_the_diagonal():
    import torch
    from torch import nn

    from analysis.explain.compare.cka import cka_matrix, layer_features, linear_cka, trunk_stages

    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential()
            self.trunk.add_module("stem", nn.Conv2d(3, 4, 3))
            self.trunk.add_module("act", nn.ReLU())  # no convolution: not a stage
            self.trunk.add_module("block", nn.Sequential(nn.Conv2d(4, 6, 3), nn.ReLU()))
            self.head = nn.Linear(6, 2)

        def forward(self, x):
            return self.head(self.trunk(x).mean(dim=(2, 3)))

    net = Net().eval()
    assert trunk_stages(net) == ["trunk.stem", "trunk.block"]
    x = torch.randn(10, 3, 12, 12)
    feats = layer_features(net, [x[:4], x[4:]], trunk_stages(net))
    with torch.no_grad():
        stem = net.trunk.stem(x)
        block = net.trunk.block(net.trunk.act(stem))
    np.testing.assert_allclose(feats["trunk.stem"], stem.mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(feats["trunk.block"], block.mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6)
    table = cka_matrix(feats, feats)
    assert len(table) == 4
    diag = table[table["layer_a"] == table["layer_b"]]["cka"]
    np.testing.assert_allclose(diag, 1.0, atol=1e-9)
    off = table[(table["layer_a"] == "trunk.stem") & (table["layer_b"] == "trunk.block")]["cka"].iat[0]
    assert off == pytest.approx(linear_cka(feats["trunk.stem"], feats["trunk.block"]))
    assert not net.trunk.stem._forward_hooks  # hooks removed
