"""The portrait's figures: effect bars with intervals (names escaped, marks shown), the
mean map picture, and the one-slide export."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.concepts.portrait import build_portrait, ConceptName
from dashboard.figures import charts
from dashboard.figures import portrait as fig_portrait


def _effects():
    return pd.DataFrame({"concept": [0, 1, 2], "name": ["<b>poles</b>", "sky", "roofs"],
                         "automatic": [False, True, True], "stable": [True, False, True],
                         "effect": [0.30, 0.10, -0.02], "low": [0.20, 0.0, -0.05], "high": [0.45, 0.2, 0.01],
                         "images": [12] * 3})


def test_effect_chart_bars_intervals_marks_and_escaped_names():
    fig = fig_portrait.effect_chart(_effects(), "tokyo", lead=[0])
    bar = fig.data[0]
    assert list(bar.y) == ["roofs (auto)", "sky (auto) ⚠ unstable", "&lt;b&gt;poles&lt;/b&gt;"]  # ascending
    assert np.allclose(bar.x, [-0.02, 0.10, 0.30])
    assert np.allclose(bar.error_x.array, [0.03, 0.10, 0.15]) and np.allclose(bar.error_x.arrayminus, [0.03, 0.10, 0.10])
    assert list(bar.marker.color) == [charts.COLORS["other"], charts.COLORS["other"], charts.COLORS["positive"]]


def test_mean_map_picture_is_warm_where_the_concept_sits():
    heat = np.zeros((7, 7), np.float32)
    heat[6, :] = 1.0  # bottom strip
    pic = fig_portrait.mean_map_picture(np.full((50, 50, 3), 128, np.uint8), heat, size=70)
    assert pic.shape == (70, 70, 3)
    assert np.abs(pic[-3:].astype(int) - 128).sum() > 10 * np.abs(pic[:10].astype(int) - 128).sum()


def test_portrait_slide_holds_question_sentences_and_every_card():
    eff = pd.DataFrame({"concept": [0, 1], "target": ["tokyo"] * 2, "effect": [0.3, 0.1], "low": [0.2, 0.05],
                        "high": [0.4, 0.2], "images": [12, 12], "pull": [0.0, 0.0]})
    stab = pd.DataFrame({"concept": [0, 1], "stable": [True, True], "came_back": [5, 4], "refits": [5, 5]})
    prev = pd.DataFrame({"concept": [0, 1], "target": ["tokyo"] * 2, "share": [0.8, 0.4], "others": [0.1, 0.2],
                         "where": ["top strip", "sky"]})
    names = {0: ConceptName(0, "utility poles", False, "user"), 1: ConceptName(1, "blue", True, "colour")}
    p = build_portrait("tokyo", eff, stab, prev, names)
    pics = {0: fig_portrait.CardPictures(patches=[np.zeros((20, 20, 3), np.uint8)] * 8,
                                         mean_map=np.zeros((30, 30, 3), np.uint8))}
    fig = fig_portrait.portrait_figure(p, pics, run="r1")
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "What makes a street look like tokyo?" in texts and "r1" in texts
    assert "1. utility poles" in texts and "2. blue  (auto)" in texts
    assert "came back in 4 of 5 refits" in texts
    assert p.sentences[0].split(";")[0] in texts.replace("\n", " ")
    assert len(fig.axes) == 2 + 1 + 2  # card 0: featvis slot, mean map, patches; card 1: two empty slots
