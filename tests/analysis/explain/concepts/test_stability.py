"""Stability: planted concepts come back in every refit; a direction the data does not
hold does not; the Hungarian match is one-to-one and maximal."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.explain.concepts.stability import Stability, concept_stability, cosine_matrix, match


@pytest.fixture
def planted():
    """Activations (40, 8, 3, 3) made of 3 planted non-overlapping directions."""
    rng = np.random.default_rng(0)
    W = np.zeros((3, 8))
    W[0, :3], W[1, 3:5], W[2, 5:] = 1, 1, 1
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    U = rng.random((40, 3, 3, 3)) * (rng.random((40, 3, 3, 3)) < 0.5)
    A = np.einsum("nkhw,kc->nchw", U, W) + 1e-3 * rng.random((40, 8, 3, 3))
    return A.astype(np.float32), W


def test_match_is_the_best_one_to_one_assignment():
    ref = np.eye(3)
    other = np.array([[0, 0, 1.0], [1, 0.1, 0], [0, 1, 0]])
    index, cos = match(ref, other)
    assert index.tolist() == [1, 2, 0]
    np.testing.assert_allclose(cos, [1 / np.sqrt(1.01), 1, 1])
    index, cos = match(ref, other[:2])  # fewer concepts in the refit: one stays unmatched
    assert sorted(index.tolist()) == [-1, 0, 1] and cos[index == -1] == 0


def test_cosine_matrix_ignores_scale_and_handles_zero_rows():
    c = cosine_matrix(np.array([[2.0, 0], [0, 0]]), np.array([[5.0, 0], [1, 1]]))
    np.testing.assert_allclose(c, [[1, 1 / np.sqrt(2)], [0, 0]])


def test_planted_concepts_are_stable(planted):
    A, W = planted
    s = concept_stability(A, W, refits=3, max_rows=10_000, seed=0)
    assert s.similarity.shape == (3, 3)
    assert s.similarity.min() > 0.99 and s.score.tolist() == [1, 1, 1] and s.stable.all()


def test_a_direction_the_data_does_not_hold_is_unstable(planted):
    A, W = planted
    ref = W.copy()
    ref[2] = np.ones(8) / np.sqrt(8)  # a blend of everything: no refit finds it
    s = concept_stability(A, ref, refits=3, seed=1)
    assert s.stable.tolist() == [True, True, False]
    assert s.came_back.tolist() == [3, 3, 0]


def test_stability_is_reproducible_and_checks_its_input(planted):
    A, W = planted
    a = concept_stability(A, W, refits=2, seed=5, indices=np.arange(20))
    b = concept_stability(A, W, refits=2, seed=5, indices=np.arange(20))
    np.testing.assert_array_equal(a.similarity, b.similarity)
    with pytest.raises(ValueError, match="at least one refit"):
        concept_stability(A, W, refits=0)
    with pytest.raises(ValueError, match="no images"):
        concept_stability(A, W, indices=[])


def test_stability_counts_the_refits_a_concept_came_back_in():
    s = Stability(np.array([[0.9, 0.5, 0.85], [0.7, 0.6, 0.95], [0.95, 0.81, 0.1]]), threshold=0.6, returns=0.8)
    assert s.came_back.tolist() == [2, 1, 2]
    np.testing.assert_allclose(s.score, [2 / 3, 1 / 3, 2 / 3])
    assert s.stable.tolist() == [True, False, True]
