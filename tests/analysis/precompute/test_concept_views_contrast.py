"""Why this city and not that one, as the Errors page reads it: per misclassified image the
concepts' contributions to logit(predicted) − logit(true), per confused pair the concepts
that set its mistakes apart, and the concept deletion summary — on a hand-made cache whose
every number is worked out below."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.precompute import concept_views
from analysis.precompute.stage import all_stages
from analysis.store import CacheError, RunCache

CLASSES = ["a", "b", "c"]

# removal Δlogits (image, concept, class): what removing the concept takes from each logit
DLOGITS = np.array([
    [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]],    # 0: a → a (right); towards b: k0 −1, k1 +2
    [[0.5, 2.5, 0.0], [0.0, 0.2, 1.0]],    # 1: a → b; towards b: k0 +2.0, k1 +0.2
    [[0.0, 0.3, 0.0], [1.0, 0.4, 0.0]],    # 2: a → b; towards b: k0 +0.3, k1 −0.6
    [[0.0, 1.0, 3.0], [0.0, 0.0, -0.5]],   # 3: b → c; towards c: k0 +2.0, k1 −0.5
    [[9.0, 0.0, 0.0], [0.0, 0.0, 9.0]],    # 4: a → c, but a validation image
], dtype=np.float32)


@pytest.fixture
def cache(tmp_path):
    all_stages()  # the stages declare their artefacts
    c = RunCache(tmp_path / "r")
    c.root.mkdir(parents=True)
    c.write_table("samples", pd.DataFrame({
        "row": [0, 1, 2, 3, 4], "id": list("vwxyz"), "class": ["a", "a", "a", "b", "a"],
        "pred_class": ["a", "b", "b", "c", "c"], "p_pred": [0.9, 0.6, 0.8, 0.7, 0.5],
        "p_true": [0.9, 0.3, 0.1, 0.2, 0.4], "split": ["test"] * 4 + ["val"]}))
    c.write_concept_basis(np.eye(2, 3), {"layer": "x"})
    c.write_array("concept_removal_logits", DLOGITS)
    c.write_table("concept_stability", pd.DataFrame({"concept": [0, 1], "stable": [True, False],
                                                     "came_back": [5, 1], "refits": [5, 5]}))
    return c


def test_each_misclassified_test_image_with_its_concepts_strongest_first(cache):
    e = concept_views.error_explanations(cache, CLASSES, top=None)
    assert e["id"].tolist() == ["w", "w", "x", "x", "y", "y"]  # right images and val image z left out
    assert e["concept"].tolist() == [0, 1, 1, 0, 0, 1]  # image x: |−0.6| beats |+0.3|
    assert e["contribution"].tolist() == pytest.approx([2.0, 0.2, -0.6, 0.3, 2.0, -0.5])
    assert e[["true", "predicted"]].drop_duplicates().values.tolist() == [["a", "b"], ["b", "c"]]
    assert e["name"].tolist()[:2] == ["concept 0", "concept 1"] and e["automatic"].all()
    assert e["stable"].tolist() == [True, False, False, True, True, False]
    assert e["p_pred"].tolist()[:1] == [0.6] and e["p_true"].tolist()[:1] == [0.3]
    top = concept_views.error_explanations(cache, CLASSES, top=1)
    assert list(zip(top["id"], top["concept"])) == [("w", 0), ("x", 1), ("y", 0)]


def test_other_rows_and_a_users_name(cache):
    s = cache.samples()
    e = concept_views.error_explanations(cache, CLASSES, s[s["split"] == "val"], top=2)
    # towards c rather than a: k0 0 − 9, k1 9 − 0; a tie in size keeps the lower index first
    assert e["id"].tolist() == ["z", "z"] and e["concept"].tolist() == [0, 1]
    assert e["contribution"].tolist() == pytest.approx([-9.0, 9.0])
    concept_views.name_concept(cache, 1, "<b>x</b>")
    e = concept_views.error_explanations(cache, CLASSES, top=None)
    k1 = e[e["concept"] == 1]
    assert set(k1["name"]) == {"<b>x</b>"} and not k1["automatic"].any()  # kept as typed: pages escape it
    # a page that could not read the names file passes given={}: the automatic names stand in
    e = concept_views.error_explanations(cache, CLASSES, top=None, given={})
    assert set(e[e["concept"] == 1]["name"]) == {"concept 1"}


def test_confused_pairs_ranked_by_what_sets_their_mistakes_apart(cache):
    p = concept_views.pair_view(cache, CLASSES, top=None)
    assert p[["true", "predicted", "images"]].drop_duplicates().values.tolist() == [["a", "b", 2], ["b", "c", 1]]
    ab = p[p["true"] == "a"]
    # mean over images w, x: k0 (2.0 + 0.3)/2, k1 (0.2 − 0.6)/2; usual (image v): k0 −1, k1 +2
    by_k = ab.set_index("concept")
    assert by_k.loc[0, ["contribution", "usual", "separation"]].tolist() == pytest.approx([1.15, -1.0, 2.15])
    assert by_k.loc[1, ["contribution", "usual", "separation"]].tolist() == pytest.approx([-0.2, 2.0, -2.2])
    assert ab["concept"].tolist() == [1, 0]  # |−2.2| > |2.15|, although k0 contributes more
    bc = p[p["true"] == "b"]
    # no correctly classified b image to compare with: ranked by the contribution itself
    assert bc["concept"].tolist() == [0, 1] and bc["usual"].isna().all()
    assert bc["contribution"].tolist() == pytest.approx([2.0, -0.5])
    assert len(concept_views.pair_view(cache, CLASSES, top=1)) == 2


def test_stored_pairs_of_each_split_are_the_live_ones(cache):
    """The concept_effects stage stores every split's pairs (``contrast_table``); read back,
    they are what ``pair_view`` computes from the per-image array; a split it did not store
    (or a cache without the table) gives None, so the caller computes it."""
    from analysis.explain import mistakes
    from analysis.precompute.stages.concept_effects import contrast_table

    assert concept_views.stored_pair_view(cache, "test") is None
    s = cache.samples()
    index = {c: i for i, c in enumerate(CLASSES)}
    y, pred = s["class"].map(index).to_numpy(), s["pred_class"].map(index).to_numpy()
    cache.write_table("concept_contrast", contrast_table(DLOGITS, y, pred, s["split"].to_numpy(), CLASSES))
    for split in ("test", "held-out", "all", "val"):
        live = concept_views.pair_view(cache, CLASSES, mistakes.in_split(s, split), top=None)
        stored = concept_views.stored_pair_view(cache, split, top=None)
        pd.testing.assert_frame_equal(stored.reset_index(drop=True), live.reset_index(drop=True))
    assert concept_views.stored_pair_view(cache, "train") is None  # no train images: not stored


def test_stored_why_lines_of_each_split_are_the_live_ones(cache):
    """The concept_effects stage stores the contributions behind the why lines of every
    split (``why_table``); read back with the page's picked mistakes, they equal what
    ``error_explanations`` computes from the per-image array, names included; a user's new
    name shows (names are not stored); other images than the stage picked give None."""
    from analysis.explain import mistakes
    from analysis.precompute.stages.concept_effects import why_table

    s = cache.samples()
    s["correct"] = s["class"] == s["pred_class"]
    assert concept_views.stored_explanations(cache, "test", mistakes.most_confident_per_cell(s)) is None
    table = why_table(DLOGITS, s, CLASSES)
    cache.write_table("concept_why", table)
    assert set(table["split"]) == {"test", "held-out", "all", "val"}  # no train images: not stored
    assert table[(table["split"] == "test") & (table["row"] == 2)]["concept"].tolist() == [1, 0]  # |−0.6| first
    concept_views.name_concept(cache, 1, "utility poles")  # after the analysis
    for split in ("test", "held-out", "all", "val"):
        picked = mistakes.most_confident_per_cell(mistakes.in_split(s, split))
        live = concept_views.error_explanations(cache, CLASSES, picked, top=None)
        stored = concept_views.stored_explanations(cache, split, picked)
        pd.testing.assert_frame_equal(stored.reset_index(drop=True), live.reset_index(drop=True))
        assert (stored["name"][stored["concept"] == 1] == "utility poles").all()
    fewer = mistakes.most_confident_per_cell(mistakes.in_split(s, "all"), per_cell=1)
    assert concept_views.stored_explanations(cache, "all", fewer) is None  # not the stage's selection


def test_the_most_confident_mistakes_of_each_cell():
    s = pd.DataFrame({"row": range(6), "class": list("aaaabb"), "pred_class": list("abbbaa"),
                      "p_pred": [0.9, 0.5, 0.8, 0.7, 0.6, 0.65], "correct": [True] + [False] * 5})
    assert mistakes_rows(s, 2) == [2, 3, 4, 5]  # cell a→b: its two most confident (0.8, 0.7); b→a: both
    assert mistakes_rows(s, 5) == [1, 2, 3, 4, 5]  # no more mistakes than that: every one


def mistakes_rows(s, per_cell):
    from analysis.explain import mistakes

    return mistakes.most_confident_per_cell(s, per_cell)["row"].tolist()


def test_without_removal_effects_one_line_names_the_command(cache):
    cache.remove("concept_removal_logits")
    with pytest.raises(CacheError, match="no concept_removal_logits: run `streetlens analyze r`"):
        concept_views.error_explanations(cache, CLASSES)
    with pytest.raises(CacheError):
        concept_views.pair_view(cache, CLASSES)


def test_labels_without_stability_say_none(cache):
    cache.remove("concept_stability")
    lab = concept_views.concept_labels(cache)
    assert lab["concept"].tolist() == [0, 1] and lab["stable"].tolist() == [None, None]


def curves_table() -> pd.DataFrame:
    rows = []
    for target, ranked, random in (("a", [0.8, 0.4, 0.2], [0.8, 0.7, 0.6]), ("b", [0.5, 0.3, 0.1], [0.5, 0.6, 0.7])):
        for order, ps in (("ranked", ranked), ("random", random)):
            for step, p in enumerate(ps):
                rows.append({"target": target, "curve": "deletion", "order": order, "step": step,
                             "fraction": step / 2, "p": p, "images": 4})
                rows.append({"target": target, "curve": "insertion", "order": order, "step": step,
                             "fraction": step / 2, "p": 1 - p, "images": 4})
    return pd.DataFrame(rows)


def test_deletion_summary_areas_drops_and_ratios():
    s = concept_views.deletion_summary(curves_table(), top=1).set_index("target")
    # trapezoids, dx = 1/2: ranked a 0.5·(0.4 + 0.4 + 0.1) = 0.45, random a 0.5·(0.4 + 0.7 + 0.3) = 0.7
    assert s.loc["a", ["auc_ranked", "auc_random"]].tolist() == pytest.approx([0.45, 0.7])
    assert s.loc["a", "auc_ratio"] == pytest.approx(0.45 / 0.7)
    assert s.loc["a", ["p_start", "drop_ranked", "drop_random", "drop_ratio"]].tolist() == pytest.approx(
        [0.8, 0.4, 0.1, 4.0])
    assert s.loc["b", "drop_random"] == pytest.approx(-0.1) and np.isnan(s.loc["b", "drop_ratio"])
    assert s.loc["a", "images"] == 4
    two = concept_views.deletion_summary(curves_table(), top=2).set_index("target")
    assert two.loc["a", "drop_ranked"] == pytest.approx(0.6)
    assert concept_views.deletion_summary(curves_table().iloc[:0]).empty
