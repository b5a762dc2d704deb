"""What the Portrait page reads beside the portrait: patches (the city's own first),
candidates, cue, mean map, flags, every concept's effect — on a hand-made cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.precompute import portrait_views
from analysis.precompute.stage import all_stages
from analysis.store import RunCache

CLASSES = ["kyoto", "paris"]


@pytest.fixture
def cache(tmp_path):
    all_stages()  # the stages declare their artefacts
    c = RunCache(tmp_path / "r")
    c.root.mkdir(parents=True)
    c.write_table("samples", pd.DataFrame({"row": [0, 1, 2, 3], "id": list("abcd"),
                                           "class": ["kyoto", "paris", "kyoto", "paris"],
                                           "y_class": [0, 1, 0, 1], "split": ["test"] * 4}))
    # concept 0's patches by rank: paris, kyoto, paris, kyoto, paris
    c.write_table("concept_patches", pd.DataFrame({
        "concept": [0] * 5 + [1], "rank": [0, 1, 2, 3, 4, 0], "row": [1, 0, 3, 2, 1, 0],
        "id": list("badcba"), "file": [f"p{i}.png" for i in range(6)]}))
    c.write_concept_basis(np.eye(2, 3), {"layer": "x"})
    c.write_table("concept_effects", pd.DataFrame({
        "concept": [0, 1, 0, 1], "target": ["kyoto", "kyoto", "paris", "paris"], "effect": [0.1, 0.3, 0.0, 0.2],
        "low": [0.05, 0.1, -0.1, 0.1], "high": [0.2, 0.4, 0.1, 0.3], "images": [2] * 4, "pull": [0.0] * 4,
        "split": ["test"] * 4}))
    c.write_table("concept_stability", pd.DataFrame({"concept": [0, 1], "stable": [True, False],
                                                     "came_back": [5, 1], "refits": [5, 5]}))
    c.write_table("concept_prevalence", pd.DataFrame({
        "concept": [0, 1, 0, 1], "target": ["kyoto", "kyoto", "paris", "paris"], "share": [0.5] * 4,
        "others": [0.1] * 4, "where": ["sky"] * 4}))
    maps = np.zeros((2, 2, 3, 3), np.float32)
    maps[1, 0, 2, 2] = 7.0
    c.write_array("concept_class_maps", maps)
    c.write_table("concept_city_cues", pd.DataFrame({"concept": [1], "target": ["kyoto"], "cue": ["machiya"],
                                                     "iou": [0.4]}))
    c.write_table("shortcut_flags", pd.DataFrame({"kind": ["frame", "duplicates"], "target": ["kyoto", ""],
                                                  "text": ["t", "u"], "look": ["l", "m"], "score": [0.7, 0.1],
                                                  "link": ["x", "y"]}))
    return c


def test_a_card_shows_the_citys_own_patches_first_then_the_others_by_rank(cache):
    p = portrait_views.card_patches(cache, 0, "kyoto", n=4)
    assert p["file"].tolist() == ["p1.png", "p3.png", "p0.png", "p2.png"]
    assert p["own"].tolist() == [True, True, False, False]
    assert portrait_views.evidence(cache, 0, "kyoto", CLASSES).own_patches == 2


def test_evidence_carries_mean_map_cue_and_nothing_invented(cache):
    ev = portrait_views.evidence(cache, 1, "kyoto", CLASSES)
    assert ev.mean_map.shape == (3, 3) and ev.mean_map[2, 2] == 7.0
    assert ev.cue == ("machiya", pytest.approx(0.4))
    assert portrait_views.city_cue(cache, 1, "paris") is None  # no cue row: no cue claimed
    assert ev.featvis is None and ev.candidates.empty  # stages not run: nothing shown
    assert portrait_views.mean_map(cache, 1, "rome", CLASSES) is None


def test_every_concepts_effect_sorted_with_names_and_stability(cache):
    e = portrait_views.city_effects(cache, "kyoto", given={})
    assert e["concept"].tolist() == [1, 0] and e["stable"].tolist() == [False, True]
    assert e["name"].tolist() == ["concept 1", "concept 0"] and e["automatic"].all()
    cards = portrait_views.all_cards(cache, "kyoto", given={})
    assert {c.concept: c.clear for c in cards} == {0: True, 1: False}  # concept 1 is unstable


def test_flags_of_a_city_and_the_property_line(cache):
    assert portrait_views.city_flags(cache, "kyoto")["kind"].tolist() == ["frame"]
    assert portrait_views.property_line(cache) is None
    cache.write_table("property_scores", pd.DataFrame({"property": ["all"], "balanced_accuracy": [0.91],
                                                       "chance": [0.5], "p_value": [0.002]}))
    assert portrait_views.property_line(cache).endswith("balanced accuracy 0.91 vs chance 0.50, permutation p = 0.002")


def test_classes_of_rows_by_binary_search_in_any_row_order():
    samples = pd.DataFrame({"row": [0, 1, 2, 5], "class": pd.Categorical(["a", "b", "a", "c"])})
    assert portrait_views.classes_of(samples, [5, 0, 3]).tolist() == ["c", "a", ""]
    shuffled = samples.iloc[[3, 1, 0, 2]]
    assert portrait_views.classes_of(shuffled, [5, 1]).tolist() == ["c", "b"]
    assert portrait_views.classes_of(samples.head(0), [1]).tolist() == [""]
