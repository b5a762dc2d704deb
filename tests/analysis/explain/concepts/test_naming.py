"""Name candidates: cue IoU computed by hand, scene categories, colour, position, and the
order in which a candidate becomes the automatic name."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from analysis.explain.concepts.naming import (Candidate, automatic_name, candidates_frame, colour_candidate,
                                              cue_overlap, readable, scene_candidates)


def cue(kind, mask):
    return SimpleNamespace(kind=kind, mask=mask)


def test_cue_iou_by_hand():
    # one concept, two images of 4×4 px; the 2×2 map upsamples to 4×4 (bilinear, half-pixel)
    maps = np.zeros((2, 1, 2, 2), np.float32)
    maps[0, 0, 1, 1] = 1.0  # strongest bottom-right
    maps[1, 0, 0, 0] = 1.0  # strongest top-left
    bottom_right = np.zeros((4, 4), bool)
    bottom_right[2:, 2:] = True
    cues = {"a.png": [cue("bus", bottom_right)], "b.png": []}
    t = cue_overlap(maps, ["a.png", "b.png"], cues.get, top_images=2, threshold=0.5).set_index("cue")
    # region of image a: the upsampled map ≥ half its max is exactly the bottom-right 2×2
    # block (values 1, .75, .75, .5625); image b has no cues and adds nothing
    assert t.loc["bus", "iou"] == pytest.approx(1.0)
    assert t.loc["bus", "images"] == 1


def test_cue_iou_counts_the_region_of_images_without_the_cue():
    maps = np.zeros((2, 1, 2, 2), np.float32)
    maps[:, 0, 1, 1] = 1.0
    m = np.zeros((4, 4), bool)
    m[2:, 2:] = True
    other = np.zeros((4, 4), bool)
    other[0, 0] = True
    cues = {"a.png": [cue("bus", m)], "b.png": [cue("tree", other)]}
    t = cue_overlap(maps, ["a.png", "b.png"], cues.get, top_images=2).set_index("cue")
    assert t.loc["bus", "iou"] == pytest.approx(4 / (4 + 4))  # b's region joins bus's union
    assert t.loc["tree", "iou"] == pytest.approx(0 / (4 + 5))


def test_scene_candidates_average_over_patches():
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    got = scene_candidates(probs, ["street", "alley", "forest_path/outdoor"], concept=2, top=2)
    assert [(c.name, round(c.score, 2)) for c in got] == [("alley", 0.5), ("street", 0.4)]
    assert readable("forest_path/outdoor") == "forest path (outdoor)"


def test_colour_candidate_names_the_dominant_palette_colour():
    px = np.array([[200, 30, 30]] * 3 + [[245, 245, 245]])
    c = colour_candidate(px, 0)
    assert c.name == "red" and c.score == pytest.approx(0.75)


def test_automatic_name_prefers_cues_then_scenes_then_descriptors():
    weak_cue = Candidate(0, "bus", 0.01, "cue")
    cand = [weak_cue, Candidate(0, "street", 0.3, "scene"), Candidate(0, "grey", 0.6, "colour"),
            Candidate(0, "bottom strip", 0.5, "position")]
    assert automatic_name(cand).name == "street"
    assert automatic_name([*cand, Candidate(0, "tram", 0.2, "cue")]).name == "tram"
    only = automatic_name([weak_cue, *cand[2:]])
    assert only.name == "grey · bottom strip" and only.source == "colour+position"
    assert automatic_name([]) is None


def test_candidates_frame_marks_the_automatic_name_once_per_concept():
    cand = [Candidate(0, "street", 0.3, "scene"), Candidate(0, "grey", 0.6, "colour"),
            Candidate(1, "grey", 0.6, "colour"), Candidate(1, "top band", 0.4, "position")]
    t = candidates_frame(cand)
    assert t.groupby("concept")["automatic"].sum().tolist() == [1, 1]
    assert t[t.automatic].name.tolist() == ["street", "grey · top band"]
    assert t[t.concept == 0]["rank"].tolist() == [0, 1]
