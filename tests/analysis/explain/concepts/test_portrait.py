"""Portraits: which concepts lead, which are left out and why, and the sentences built
from the numbers (no text written per dataset)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from analysis.explain.concepts.portrait import ConceptName, build_portrait, join_and, resolve_names


def tables(rows):
    """Effects, stability and prevalence tables for city "tokyo" and concepts of ``rows``:
    (concept, effect, low, high, stable, came_back)."""
    eff = pd.DataFrame([{"concept": k, "target": "tokyo", "effect": e, "low": lo, "high": hi, "images": 12,
                         "pull": e} for k, e, lo, hi, _, _ in rows]
                       + [{"concept": k, "target": "kyoto", "effect": 0.0, "low": 0.0, "high": 0.0, "images": 12,
                           "pull": 0.1 if k == 0 else -0.1} for k, *_ in rows])
    stab = pd.DataFrame([{"concept": k, "stable": s, "came_back": cb, "refits": 5, "stability": cb / 5}
                         for k, _, _, _, s, cb in rows])
    prev = pd.DataFrame([{"concept": k, "target": "tokyo", "share": 0.9, "others": 0.1, "where": "middle band",
                          "where_all": "middle band"} for k, *_ in rows])
    names = {k: ConceptName(k, f"c{k}", True, "cue") for k, *_ in rows}
    return eff, stab, prev, names


def test_stable_significant_concepts_lead_by_effect():
    eff, stab, prev, names = tables([
        (0, 0.30, 0.20, 0.40, True, 5), (1, 0.50, 0.30, 0.70, False, 1),  # the strongest is unstable
        (2, 0.10, 0.02, 0.20, True, 4), (3, 0.05, -0.01, 0.10, True, 5), (4, -0.2, -0.3, -0.1, True, 5)])
    p = build_portrait("tokyo", eff, stab, prev, names)
    assert [c.concept for c in p.cards] == [0, 2, 3]  # 3 is not clear (interval crosses 0): filler
    assert [c.clear for c in p.cards] == [True, True, False]
    assert [c.concept for c in p.left_out] == [1]
    assert p.sentences[0].startswith("Removing “c0” lowers the model's probability of tokyo by 0.30 on average "
                                     "(95 % interval 0.20 to 0.40, 12 test photos); “c2” by 0.10.")
    assert p.sentences[1] == "“c0” shows in 90% of tokyo photos and 10% of the others, mostly in the middle band."
    assert p.sentences[2] == ("“c1” would matter too (0.50) but came back in only 1 of 5 refits of the "
                              "concepts, so it is left out.")
    assert p.cards[0].pulls == [("kyoto", 0.1)]  # the city itself is not "another city" it pulls towards


def test_tiny_effects_never_lead_as_clear_and_the_portrait_says_so():
    eff, stab, prev, names = tables([(0, 0.40, 0.3, 0.5, True, 5), (1, 0.03, 0.005, 0.06, True, 5),
                                     (2, 0.01, 0.005, 0.02, True, 5)])
    p = build_portrait("tokyo", eff, stab, prev, names)
    # 1 is below a tenth of the top effect (not clear) but still moves P by 0.02: a weak filler; 2 barely matters
    assert [(c.concept, c.clear) for c in p.cards] == [(0, True), (1, False)]
    assert p.sentences[-1] == ("Beyond “c0”, no stable concept clearly moves the probability of tokyo "
                               "(“c1”: 0.03 or less).")
    p = build_portrait("tokyo", eff[eff["concept"] != 1], stab, prev, names)
    assert [c.concept for c in p.cards] == [0]  # never filled up with a concept that barely matters
    assert p.sentences[-1] == "No other stable concept lowers the probability of tokyo by 0.02 or more when removed."


def test_completeness_closes_a_portrait_without_caveats():
    eff, stab, prev, names = tables([(0, 0.4, 0.3, 0.5, True, 5), (1, 0.3, 0.2, 0.4, True, 5),
                                     (2, 0.2, 0.1, 0.3, True, 5)])
    comp = pd.DataFrame([{"target": "tokyo", "ratio": 0.9}])
    p = build_portrait("tokyo", eff, stab, prev, names, comp)
    assert p.sentences[-1] == "Rebuilt from the concepts alone, the activations keep 90% of the model's accuracy on tokyo."
    assert p.completeness == 0.9


def test_no_stable_concept():
    eff, stab, prev, names = tables([(0, 0.4, 0.3, 0.5, False, 1)])
    p = build_portrait("tokyo", eff, stab, prev, names)
    assert p.cards == [] and p.left_out[0].concept == 0
    assert p.sentences[0].startswith("No stable concept raises the model's probability of tokyo")


def test_resolve_names_user_then_automatic_then_index():
    cand = pd.DataFrame([{"concept": 0, "name": "bus", "source": "cue", "automatic": True},
                         {"concept": 1, "name": "grey · bottom strip", "source": "colour+position", "automatic": True},
                         {"concept": 1, "name": "grey", "source": "colour", "automatic": False}])
    names = resolve_names(cand, {1: SimpleNamespace(name="asphalt")}, 3)
    assert [(n.label, n.automatic, n.source) for n in names.values()] == [
        ("bus", True, "cue"), ("asphalt", False, "user"), ("concept 2", True, "index")]


def test_join_and():
    assert [join_and(x) for x in (["a"], ["a", "b"], ["a", "b", "c"])] == ["a", "a and b", "a, b and c"]


def test_where_reads_as_english_for_every_place():
    for where, tail in [("all over the frame", ", all over the frame."), ("nowhere in particular", "others."),
                        ("sky", ", mostly in the sky.")]:
        eff, stab, prev, names = tables([(0, 0.40, 0.3, 0.5, True, 5)])
        p = build_portrait("tokyo", eff, stab, prev.assign(where=where), names)
        assert p.sentences[1].endswith(tail), p.sentences[1]


def test_a_saturated_city_is_told_by_its_concepts_together():
    eff, stab, prev, names = tables([(0, 0.04, 0.01, 0.06, True, 5), (1, 0.03, 0.01, 0.05, True, 5)])
    curves = pd.DataFrame([{"target": "tokyo", "curve": "deletion", "order": o, "step": st, "p": p}
                           for o, st, p in [("ranked", 0, 0.998), ("ranked", 3, 0.46), ("random", 3, 0.91),
                                            ("random", 0, 0.998)]])
    p = build_portrait("tokyo", eff, stab, prev, names, curves=curves)
    assert p.sentences[-1] == ("One at a time they move it little, but removing its top 3 concepts together takes "
                               "the probability of tokyo from 1.00 to 0.46 (3 random concepts: to 0.91).")
    assert len(p.sentences) == 3
    # a model whose single concepts already carry the city gets no such sentence
    eff2, *_ = tables([(0, 0.40, 0.3, 0.5, True, 5), (1, 0.3, 0.2, 0.4, True, 5)])
    assert not any("together" in x for x in build_portrait("tokyo", eff2, stab, prev, names, curves=curves).sentences)
