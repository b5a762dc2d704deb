"""Evidence fixed in the frame: regions, peaks, the table and which rows become flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.explain.shortcuts.frame import (REGIONS, concept_region_share, frame_flags, frame_table,
                                              own_class_cams, peak_regions, region_masks)


def test_region_masks_at_7x7():
    m = region_masks(7, 7)
    assert set(m) == set(REGIONS)
    assert m["bottom strip"].sum() == 7 and m["bottom strip"][-1].all()
    assert m["bottom-right corner"].sum() == 4 and m["bottom-right corner"][-2:, -2:].all()
    assert region_masks(16, 16)["top strip"][:2].all() and region_masks(16, 16)["top strip"].sum() == 32


def test_peaks_and_own_class_cams():
    cams = np.zeros((2, 3, 7, 7), np.float32)
    cams[0, 1, 6, 6] = 2.0  # image 0, class 1: bottom-right corner
    cams[0, 0, 3, 3] = 5.0  # another class's map is ignored
    cams[1, 0, 0, 3] = 1.0  # image 1, class 0: top strip
    own = own_class_cams(cams, np.array([1, 0]))
    p = peak_regions(own)
    names = list(REGIONS)
    assert {names[i] for i in np.flatnonzero(p[0])} == {"bottom strip", "right strip", "bottom-right corner"}
    assert {names[i] for i in np.flatnonzero(p[1])} == {"top strip"}


def test_a_stamp_like_class_is_flagged_and_a_street_cue_is_not():
    rng = np.random.default_rng(0)
    n = 40
    labels = np.repeat([0, 1], n // 2)
    maps = rng.random((n, 7, 7))
    maps[labels == 0, 6, 6] = 10  # class 0: always the bottom-right corner
    t = frame_table(peak_regions(maps), labels, ["stamped", "street"])
    flags = frame_flags(t)
    assert flags["target"].tolist() == ["stamped"]
    row = flags.iloc[0]
    assert row["share"] == 1.0 and row["region"] in ("bottom strip", "right strip", "bottom-right corner")


def test_classes_with_too_few_correct_images_are_not_judged():
    maps = np.zeros((6, 7, 7))
    maps[:, 0, 0] = 1
    t = frame_table(peak_regions(maps), np.zeros(6, int), ["a"], correct=np.array([1, 1, 1, 1, 0, 0], bool))
    assert t.empty


def test_concept_region_share():
    m = np.zeros((7, 7))
    m[-1, :] = 1
    region, share = concept_region_share(m)
    assert region == "bottom strip" and share == pytest.approx(1.0)
    assert concept_region_share(np.zeros((7, 7))) == ("", 0.0)


def test_a_watermark_on_a_third_of_the_photos_is_flagged_a_common_street_cue_is_not():
    # the rates seen on real photos (Seoul's watermark) and on the demo (nyc's street content)
    t = pd.DataFrame([
        {"target": "seoul", "region": "bottom strip", "share": 0.33, "others": 0.008, "images": 60, "lift": 41.3},
        {"target": "nyc", "region": "bottom-left corner", "share": 0.275, "others": 0.035, "images": 40, "lift": 7.9},
        {"target": "tiny", "region": "top strip", "share": 0.25, "others": 0.0, "images": 8, "lift": np.inf}])
    assert frame_flags(t)["target"].tolist() == ["seoul"]  # tiny: 2 photos are no evidence
