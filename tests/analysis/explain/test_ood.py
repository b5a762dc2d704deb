"""Out-of-distribution score and its calibration on the validation split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.explain.embedding import TrainingIndex
from analysis.explain.ood import Calibration, OodCheck, calibrate, missing_hint, score, scores_from_neighbours


def test_scores_from_neighbours_average_the_k_nearest():
    d = np.array([[0.1, 0.3, 0.9], [0.2, 0.2, 0.2]])
    np.testing.assert_allclose(scores_from_neighbours(d, 2), [0.2, 0.2])


def test_a_copy_of_a_training_image_scores_zero_and_an_orthogonal_one_scores_one():
    feats = np.eye(4)[:3] + 0.0
    samples = pd.DataFrame({"row": [0, 1, 2], "split": ["train"] * 3})
    index = TrainingIndex.from_samples(samples, feats)
    assert score(index, feats[1], k=1) == pytest.approx(0.0, abs=1e-6)
    assert score(index, np.array([0, 0, 0, 1.0]), k=2) == pytest.approx(1.0, abs=1e-6)


def test_calibration_on_validation_flags_the_far_ones():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.uniform(0, 1, 200), rng.uniform(0, 1, 100)])
    split = np.array(["train"] * 200 + ["val"] * 100)
    cal = calibrate(scores, split, percentile=90)
    assert cal.calibrated_on == "val" and cal.images == 100
    assert cal.threshold == pytest.approx(np.percentile(scores[200:], 90))
    assert cal.flags(scores[200:]).mean() == pytest.approx(0.10, abs=0.011)
    assert cal.flags([cal.threshold + 1e-9, cal.threshold]).tolist() == [True, False]


def test_calibration_falls_back_to_test_then_all_and_says_so():
    assert calibrate(np.arange(6.0), np.array(["test"] * 6)).calibrated_on == "test"
    assert calibrate(np.arange(3.0), np.array(["train"] * 3)).calibrated_on == "all"


def test_calibration_round_trip_and_message():
    cal = calibrate(np.linspace(0, 1, 11), np.array(["val"] * 11), k=4, percentile=99)
    assert Calibration.from_record(cal.record()) == cal
    text = cal.message(1.5)
    assert "unlike any training photo" in text and "1.50" in text and "99 %" in text and "\n" not in text


def test_check_of_a_new_photo_against_the_calibrated_threshold():
    feats = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0], [0, 0, 1.0]])
    samples = pd.DataFrame({"row": [0, 1, 2, 3], "split": ["train", "train", "train", "val"]})
    cal = Calibration(k=2, percentile=99.0, threshold=0.2, calibrated_on="val", images=5, median=0.1)
    check = OodCheck(cal, TrainingIndex.from_samples(samples, feats))  # training rows 0, 1, 2
    # [2, 0, 0]: cosine distances 0, 1 and 1 − 1/√2 to the training rows; the two nearest: 0 and 0.293
    near = check.assess(np.array([2.0, 0, 0]))
    assert near.score == pytest.approx((1 - 1 / np.sqrt(2)) / 2, abs=1e-6) and near.threshold == 0.2
    assert not near.flagged
    assert near.text == cal.within(near.score) and near.text.startswith("Like the training photos")
    assert "0.15 away" in near.text and "0.20" in near.text
    # the validation row's direction: orthogonal to every training row, distance 1
    far = check.assess(feats[3])
    assert far.score == pytest.approx(1.0, abs=1e-6) and far.flagged and far.text == cal.message(far.score)
    assert "1.00 away" in far.text and "above the 0.20 threshold" in far.text and "validation photos" in far.text
    with pytest.raises(ValueError, match="stale analysis"):
        check.assess(np.ones(4))


def test_missing_calibration_hint_is_one_line_with_the_command():
    text = missing_hint("demo-run")
    assert "`streetlens analyze demo-run --stages ood`" in text and "\n" not in text
