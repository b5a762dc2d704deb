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
