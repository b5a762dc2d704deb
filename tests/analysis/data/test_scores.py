"""Curation scores from the scene classifier's outputs: no network, no model (the scoring
pass that needs one is tested in ``tests/analysis/curate``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data import scores


def test_street_indices():
    cats = ["street", "apartment_building/outdoor", "ocean", "house"]
    assert list(scores.street_indices(cats, ["street", "apartment_building"])) == [0, 1]
    with pytest.raises(ValueError, match="bakery"):
        scores.street_indices(cats, ["street", "bakery"])
    p = np.array([[0.5, 0.2, 0.3, 0.0], [0.0, 0.1, 0.9, 0.0]])
    assert np.allclose(scores.street_score(p, cats, ["street", "apartment_building"]), [0.7, 0.1])
    assert {"street", "alley", "downtown", "crosswalk", "residential_neighborhood"} <= set(
        scores.STREET_CATEGORIES)


def test_outlier_centre_uses_street_weights_then_accepted_images():
    rng = np.random.default_rng(0)
    street_dir, junk_dir = np.eye(8)[0], np.eye(8)[1]
    # a crawl where most images are junk: 3 streets, 5 junk pictures
    f = np.vstack([street_dir + 0.05 * rng.normal(size=(3, 8)), junk_dir + 0.05 * rng.normal(size=(5, 8))])
    street = np.array([0.9, 0.8, 0.9, 0.01, 0.02, 0.01, 0.03, 0.02])
    classes, curated = ["tokyo"] * 8, ["unreviewed"] * 8
    out, basis = scores.outlier_scores(f, classes, curated, street)
    assert out[:3].max() < out[3:].min()  # the junk is unusual although it is the majority
    assert "weighted by street score" in basis["tokyo"]
    plain, _ = scores.outlier_scores(f, classes, curated, None)
    assert plain[:3].min() > plain[3:].max()  # a plain mean would be fooled
    curated = ["accepted"] * 5 + ["unreviewed"] * 3  # five accepted: they define the centre
    f2 = np.vstack([f[:3], f[3:5], f[5:]])
    out, basis = scores.outlier_scores(f2, classes, curated, street, min_accepted=5)
    assert basis["tokyo"] == "5 accepted"


def test_disputes_from_samples():
    s = pd.DataFrame({"id": ["a", "b", "c"], "class": ["tokyo", "tokyo", "paris"],
                      "pred_class": ["tokyo", "paris", "paris"], "p_pred": [0.9, 0.8, 0.6],
                      "p_true": [0.9, 0.1, 0.6]})
    d = scores.disputes_from_samples(s)
    assert np.allclose(d["dispute"], [0.0, 0.7, 0.0])
    assert list(d["pred_class"]) == ["tokyo", "paris", "paris"]
