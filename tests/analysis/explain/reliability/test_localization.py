"""Pointing game and energy on hand-made maps and masks with known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.synth import Cue
from analysis.explain.reliability import localization as lo


def mask_box(y0=10, y1=20, x0=10, x1=20, shape=(64, 64)):
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def peak(y, x, shape=(64, 64)):
    m = np.zeros(shape, np.float32)
    m[y, x] = 1.0
    return m


def test_pointing_hit_inside_miss_outside_tolerance():
    mask = mask_box()
    assert lo.pointing_hit(peak(15, 15), mask)
    assert not lo.pointing_hit(peak(50, 50), mask)
    assert not lo.pointing_hit(peak(15, 23), mask, tolerance=0)
    assert lo.pointing_hit(peak(15, 23), mask, tolerance=4)  # 4 px right of the box
    assert not lo.pointing_hit(peak(24, 24), mask, tolerance=4)  # diagonal: 5 px away
    assert not lo.pointing_hit(np.zeros((64, 64)), mask)  # no positive value: points nowhere
    assert not lo.pointing_hit(-peak(15, 15), mask)


def test_pointing_tolerance_is_euclidean():
    mask = mask_box()
    # nearest mask pixel to (23, 23) is (19, 19): distance √32 ≈ 5.66
    assert not lo.pointing_hit(peak(23, 23), mask, tolerance=5)
    assert lo.pointing_hit(peak(23, 23), mask, tolerance=6)


def test_energy():
    mask = mask_box()
    inside = np.zeros((64, 64)); inside[12:18, 12:18] = 3.0
    assert lo.energy_inside(inside, mask) == 1.0
    half = inside.copy(); half[40:46, 40:46] = 3.0
    assert lo.energy_inside(half, mask) == pytest.approx(0.5)
    signed = inside.copy(); signed[40:46, 40:46] = -3.0  # negative mass outside does not count
    assert lo.energy_inside(signed, mask) == 1.0
    assert np.isnan(lo.energy_inside(np.zeros((64, 64)), mask))
    uniform = np.ones((64, 64))
    assert lo.energy_inside(uniform, mask) == pytest.approx(mask.mean())


def test_maps_at_feature_resolution_are_resized():
    mask = mask_box(0, 32, 0, 32)  # top-left quarter
    coarse = np.zeros((2, 2)); coarse[0, 0] = 1.0
    assert lo.pointing_hit(coarse, mask)
    assert lo.energy_inside(coarse, mask) > 0.7  # bilinear upsampling spreads a little mass out


def test_chance_and_tolerance_scaling():
    mask = mask_box()
    assert lo.pointing_chance(mask) == pytest.approx(100 / 4096)
    # within 2 px of a 10×10 box: 14×14 less 3 pixels at each corner (distances √5, √5, √8)
    assert lo.pointing_chance(mask, 2) == pytest.approx((14 * 14 - 12) / 4096)
    assert lo.scaled_tolerance(224, 224) == 15 and lo.scaled_tolerance(48, 48) == 3
    assert lo.scaled_tolerance(448, 300, 15) == 20 and lo.scaled_tolerance(224, 224, 0) == 0


def test_class_mask_unites_the_true_class_cues():
    a, b = mask_box(0, 5, 0, 5), mask_box(30, 40, 30, 40)
    cues = [Cue("bus", ("london",), (0, 0, 5, 5), a), Cue("dome", ("moscow",), (30, 30, 40, 40), b),
            Cue("box", ("london", "paris"), (30, 30, 40, 40), b)]
    m = lo.class_mask(cues, "london")
    assert m.sum() == a.sum() + b.sum()
    assert lo.class_mask(cues, "tokyo") is None


def test_score_and_summarize_count_exclusions():
    mask = mask_box()
    maps = {"good": np.stack([peak(15, 15), peak(15, 15), peak(50, 50)]),
            "bad": np.stack([peak(50, 50), peak(50, 50), peak(50, 50)])}
    scores = lo.score_images(maps, [mask, mask, None], ["london", "paris", "london"], [True, False, True],
                             tolerance=0, rows=[7, 8, 9])
    assert list(scores["row"].unique()) == [7, 8, 9]
    out = lo.summarize(scores).set_index(["method", "subset", "class", "metric"])
    assert out.loc[("good", "all", "all", "pointing_game"), "value"] == 1.0
    assert out.loc[("good", "all", "all", "pointing_game"), "n"] == 2
    assert out.loc[("good", "correct", "all", "pointing_game"), "n"] == 1
    assert out.loc[("bad", "all", "all", "pointing_game"), "value"] == 0.0
    assert out.loc[("good", "all", "all", "excluded"), "value"] == 1
    assert out.loc[("good", "correct", "london", "excluded"), "value"] == 1
    assert out.loc[("good", "all", "paris", "pointing_game"), "value"] == 1.0
    assert out.loc[("good", "all", "all", "pointing_chance"), "value"] == pytest.approx(100 / 4096)
    assert isinstance(out, pd.DataFrame)
