"""Concept figures from tiny hand-made tables: the traces carry exactly the numbers given,
coloured and labelled as the page explains them, and users' names are escaped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.figures import concept_charts as cc
from dashboard.figures.charts import COLORS


# ------------------------------------------------------------------ contributions
def test_contribution_bars_values_colours_and_signed_text():
    fig = cc.contribution_bars([0.8, -0.3, 0.004], ["wide road", "utility poles", "sky"], "vancouver", "tokyo")
    bar = fig.data[0]
    np.testing.assert_allclose(bar.x, [0.8, -0.3, 0.004])
    assert list(bar.marker.color) == [COLORS["wrong"], COLORS["true"], COLORS["wrong"]]  # red: the wrong city
    assert list(bar.text) == ["+0.80", "−0.30", "+0.00"]  # a real minus sign
    assert list(fig.layout.yaxis.ticktext) == ["wide road", "utility poles", "sky"]
    assert fig.layout.yaxis.autorange == "reversed"  # first (strongest) on top
    assert fig.layout.xaxis.title.text == "← towards tokyo (true) · towards vancouver (predicted) →"
    lo, hi = fig.layout.xaxis.range
    assert lo < -0.3 and hi > 0.8  # room for the text outside the bars


def test_contribution_bars_escape_names_and_keep_equal_names_apart():
    fig = cc.contribution_bars([1.0, 0.5], ["<b>x</b>", "<b>x</b>"], "<i>p</i>", "t")
    bar = fig.data[0]
    assert list(bar.y) == [0, 1]  # two bars although the names are the same
    assert list(fig.layout.yaxis.ticktext) == ["&lt;b&gt;x&lt;/b&gt;"] * 2
    assert list(bar.customdata) == ["&lt;b&gt;x&lt;/b&gt;"] * 2
    assert "<i>" not in fig.layout.xaxis.title.text and "&lt;i&gt;p&lt;/i&gt;" in fig.layout.xaxis.title.text
    with pytest.raises(ValueError, match="2 values for 1 labels"):
        cc.contribution_bars([1.0, 2.0], ["a"], "p", "t")


# ------------------------------------------------------------------ concept deletion
def curves() -> pd.DataFrame:
    rows = []
    for target, ranked, random in (("kyoto", [0.8, 0.4, 0.2], [0.8, 0.7, 0.6]),
                                   ("paris", [0.6, 0.2, 0.0], [0.6, 0.5, 0.4])):
        for order, ps in (("ranked", ranked), ("random", random)):
            for step, p in enumerate(ps):
                for curve, v in (("deletion", p), ("insertion", 1 - p)):
                    rows.append({"target": target, "curve": curve, "order": order, "step": step,
                                 "fraction": step / 2, "p": v, "images": 3})
    return pd.DataFrame(rows)


def trace(fig, order):
    return next(t for t in fig.data if t.name.startswith(cc.ORDER_LABEL[order]))


def test_deletion_figure_of_one_city_ranked_vs_random():
    fig = cc.concept_deletion_figure(curves(), "kyoto", aucs={"ranked": 0.45, "random": 0.7},
                                     removed=["<b>cab</b>", "tree"])
    ranked, random = trace(fig, "ranked"), trace(fig, "random")
    assert list(ranked.x) == [0, 1, 2] and list(ranked.y) == pytest.approx([0.8, 0.4, 0.2])
    assert list(random.y) == pytest.approx([0.8, 0.7, 0.6])
    assert random.line.dash == "dash" and ranked.line.dash == "solid"
    assert ranked.name == "most effective first (AUC 0.45)" and random.name == "random order (AUC 0.70)"
    assert list(ranked.customdata) == ["nothing removed", "1 removed, last: &lt;b&gt;cab&lt;/b&gt;",
                                       "2 removed, last: tree"]
    assert fig.layout.yaxis.title.text == "probability of kyoto"


def test_deletion_figure_of_all_cities_is_their_mean_and_insertion_reads_its_rows():
    fig = cc.concept_deletion_figure(curves(), None)
    assert list(trace(fig, "ranked").y) == pytest.approx([0.7, 0.3, 0.1])
    assert list(trace(fig, "random").y) == pytest.approx([0.7, 0.6, 0.5])
    assert fig.layout.yaxis.title.text == "probability of the cities (mean)"
    ins = cc.concept_deletion_figure(curves(), "paris", curve="insertion")
    assert list(trace(ins, "ranked").y) == pytest.approx([0.4, 0.8, 1.0])
    assert "higher is better" in ins.layout.title.text
    m = cc.mean_curves(curves())
    assert m[m["order"] == "ranked"]["images"].tolist() == [6, 6, 6]


# ------------------------------------------------------------------ sweep
def sweep_table() -> pd.DataFrame:
    return pd.DataFrame({
        "layer": ["a", "a", "b", "b"], "k": [6, 12, 6, 12], "relative_error": [0.6, 0.5, 0.9, 0.8],
        "stable_share": [1.0, 0.8, 0.9, 0.5], "completeness": [0.4, 0.95, 0.3, 1.1],
        "recommended": [False, True, False, False]})


def test_sweep_one_line_per_layer_and_measure_and_the_recommendation_circled():
    fig = cc.sweep_figure(sweep_table(), thresholds={"stable_share": 0.75, "completeness": 0.9})
    lines = [t for t in fig.data if t.name in ("a", "b")]
    assert len(lines) == 2 * 3
    by = {(t.name, t.xaxis): t for t in lines}
    assert list(by[("a", "x")].y) == pytest.approx([0.6, 0.5])    # reconstruction error
    assert list(by[("b", "x2")].y) == pytest.approx([0.9, 0.5])   # stable share
    assert list(by[("b", "x3")].y) == pytest.approx([0.3, 1.1])   # completeness
    assert list(by[("a", "x")].x) == [6, 12]
    rec = [t for t in fig.data if t.name == "recommended"]
    assert [(list(t.x), list(t.y)) for t in rec] == [([12], [0.5]), ([12], [0.8]), ([12], [0.95])]
    assert sum(t.showlegend for t in rec) == 1
    assert sorted(s.y0 for s in fig.layout.shapes) == [0.75, 0.9]
    assert fig.layout.yaxis3.range[1] >= 1.1  # completeness above 1 stays in view


def test_sweep_without_a_recommendation_draws_only_the_lines():
    fig = cc.sweep_figure(sweep_table().drop(columns="recommended"))
    assert {t.name for t in fig.data} == {"a", "b"} and not fig.layout.shapes
