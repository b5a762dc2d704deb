"""Contrastive concepts: contributions to a logit difference, errors, confused pairs."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.explain.concepts.contrast import (confused_pairs, error_contributions, pair_contributions,
                                                pair_table, strongest)


@pytest.fixture
def dlogits():
    """4 images, 2 concepts, 3 classes: Δlogit[n, k, t] (what removing k takes from logit t)."""
    d = np.zeros((4, 2, 3))
    d[:, 0, 0] = 1.0  # concept 0 raises class 0 everywhere
    d[:, 1, 2] = [0.0, 2.0, 4.0, 0.0]  # concept 1 raises class 2 in images 1, 2
    return d


def test_pair_contribution_is_the_difference_of_the_two_logits_effects(dlogits):
    np.testing.assert_allclose(pair_contributions(dlogits, 0, 2), [[1, 0], [1, -2], [1, -4], [1, 0]])
    per_image = pair_contributions(dlogits, np.array([0, 2, 2, 1]), np.array([2, 0, 0, 1]))
    np.testing.assert_allclose(per_image, [[1, 0], [-1, 2], [-1, 4], [0, 0]])


def test_error_contributions_explain_the_predicted_over_the_true_class(dlogits):
    y_true = np.array([0, 0, 0, 2])
    y_pred = np.array([0, 2, 2, 2])
    c = error_contributions(dlogits, y_true, y_pred)
    np.testing.assert_allclose(c, [[0, 0], [-1, 2], [-1, 4], [0, 0]])  # correct rows are zero
    assert strongest(c[2]) == [(1, 4.0), (0, -1.0)]


def test_confused_pairs_count_each_pair(dlogits):
    p = confused_pairs(np.array([0, 0, 0, 1, 2]), np.array([0, 2, 2, 2, 1]), ["a", "b", "c"])
    assert p[["true", "predicted", "images"]].values.tolist() == [["a", "c", 2], ["b", "c", 1], ["c", "b", 1]]
    assert confused_pairs(np.array([1]), np.array([1]), ["a", "b"]).empty


def test_pair_table_compares_errors_with_the_usual_images(dlogits):
    y_true = np.array([0, 0, 0, 1])
    y_pred = np.array([0, 2, 2, 1])
    t = pair_table(dlogits, y_true, y_pred, ["a", "b", "c"]).set_index("concept")
    assert (t["true"] == "a").all() and (t["predicted"] == "c").all() and (t["images"] == 2).all()
    # errors: images 1, 2 → logit(c) − logit(a) contributions: concept 0 −1, concept 1 (2 + 4) / 2
    assert t.loc[0, "towards_predicted"] == pytest.approx(-1) and t.loc[1, "towards_predicted"] == pytest.approx(3)
    assert t.loc[1, "usual"] == pytest.approx(0) and t.loc[1, "separation"] == pytest.approx(3)
    none = pair_table(dlogits, y_true, y_true, ["a", "b", "c"])  # no mistakes: no pairs
    assert none.empty and sorted(none.columns) == sorted(t.reset_index().columns)
