"""Dataset-wide figures: UMAP scatter, mean Grad-CAM, concept heatmap and cards, error rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.explain import mistakes
from dashboard.figures import atlas

CLASSES = ["paris", "seoul", "tokyo"]


def samples_table() -> pd.DataFrame:
    rows = [  # class, pred, split
        ("paris", "paris", "train"), ("paris", "tokyo", "test"), ("paris", "paris", "val"),
        ("seoul", "tokyo", "test"), ("seoul", "tokyo", "val"), ("seoul", "seoul", "train"),
        ("tokyo", "tokyo", "test"), ("tokyo", "tokyo", "train"),
    ]
    group = {"paris": "West", "seoul": "East", "tokyo": "East"}
    df = pd.DataFrame(rows, columns=["class", "pred_class", "split"])
    df.insert(0, "row", np.arange(len(df)))
    df.insert(1, "id", [f"id{i}" for i in range(len(df))])
    df["group"] = df["class"].map(group)
    df["pred_group"] = df["pred_class"].map(group)
    df["y_class"] = df["class"].map({c: i for i, c in enumerate(CLASSES)})
    df["correct"] = df["class"] == df["pred_class"]
    df["correct_group"] = df["group"] == df["pred_group"]
    df["p_pred"] = np.linspace(0.4, 0.95, len(df))
    df["p_true"] = 0.3
    return df


def test_umap_scatter_one_trace_per_class_with_every_row_once():
    s = samples_table()
    pts = atlas.umap_points(pd.DataFrame({"row": s["row"], "id": s["id"], "x": np.arange(8.0),
                                          "y": np.arange(8.0) ** 2}), s)
    fig = atlas.umap_scatter(pts, "class", CLASSES, highlight=[3])
    traces = [t for t in fig.data if t.name != "selected"]
    assert [t.name for t in traces] == ["paris (3)", "seoul (3)", "tokyo (2)"]
    rows = sorted(int(cd[0]) for t in traces for cd in t.customdata)
    assert rows == list(range(8))
    assert [int(cd[0]) for cd in traces[1].customdata] == [3, 4, 5]
    ring = [t for t in fig.data if t.name == "selected"]
    assert len(ring) == 1 and list(ring[0].x) == [3.0]


def test_umap_scatter_correctness_puts_exactly_the_wrong_rows_in_wrong():
    s = samples_table()
    pts = atlas.umap_points(pd.DataFrame({"row": s["row"], "id": s["id"], "x": 0.0, "y": 0.0}), s)
    fig = atlas.umap_scatter(pts, "correctness")
    wrong = [t for t in fig.data if t.name.startswith("wrong")][0]
    assert sorted(int(cd[0]) for cd in wrong.customdata) == sorted(s.loc[~s["correct"], "row"])
    assert wrong.marker.symbol == "x"
    with pytest.raises(ValueError, match="color_by"):
        atlas.umap_scatter(pts, "colour")


def test_mean_cam_grid_is_a_captioned_picture():
    maps = np.random.default_rng(1).random((3, 7, 7)).astype(np.float32)
    pic = atlas.mean_cam_grid(maps, CLASSES, [5, 6, 7], ncols=2, cell=64)
    assert isinstance(pic, Image.Image) and pic.width == 2 * 64 + 3 * 6


IMP = pd.DataFrame([
    {"concept": k, "head": "city", "target": t, "importance": v, "images": 4}
    for k, row in enumerate([[0.5, -0.1, 0.2], [-0.3, 0.9, 0.4]]) for t, v in zip(CLASSES, row)
] + [{"concept": 0, "head": "group", "target": "East", "importance": 1.0, "images": 5}])


def test_concept_heatmap_values_and_click_targets():
    fig = atlas.concept_class_heatmap(IMP, "city", CLASSES, selected=1)
    hm = fig.data[0]
    np.testing.assert_allclose(np.asarray(hm.z, float), [[0.5, -0.1, 0.2], [-0.3, 0.9, 0.4]])
    assert list(hm.x) == CLASSES and list(hm.y) == ["concept 0", "concept 1"]
    assert hm.zmid == 0 and hm.zmax == pytest.approx(0.9) and hm.zmin == pytest.approx(-0.9)
    assert hm.text[1][1] == "+0.90"
    clicks = fig.data[1]
    assert [cd[:2] for cd in clicks.customdata][:3] == [[0, "paris"], [0, "seoul"], [0, "tokyo"]]
    assert len(fig.layout.shapes) == 1  # the selected concept is outlined


def test_concept_bars():
    fig = atlas.concept_bars(IMP, 1)
    assert list(fig.data[0].y) == ["seoul", "tokyo", "paris"]
    np.testing.assert_allclose(fig.data[0].x, [0.9, 0.4, -0.3])


def test_concept_cards_figure_has_a_row_per_concept():
    cards = [atlas.ConceptCard(k, f"concept {k}", Image.new("RGB", (32, 32), (k * 90, 0, 0)),
                               [Image.new("RGB", (24, 24))] * 3, {"paris": 0.5, "tokyo": -0.2})
             for k in range(3)]
    fig = atlas.concept_cards_figure(cards)
    titles = [t.get_text() for t in fig.texts]
    assert titles == ["concept 0", "concept 1", "concept 2"]


def test_error_rate_bars():
    rates = mistakes.error_rates(samples_table(), CLASSES)
    fig = atlas.error_rate_bars(rates)
    assert list(fig.data[0].y) == ["seoul", "paris", "tokyo"]
    assert fig.data[0].text[0] == "67% (2/3)"
    assert fig.layout.xaxis.range[1] == pytest.approx(2 / 3 * (1 + 0.04 * 9))  # room for a 9-character label
    big = pd.DataFrame({"city": ["london", "paris"], "errors": [11393, 2811], "images": [30000, 30000]})
    big["error_rate"] = big["errors"] / big["images"]
    wide = atlas.error_rate_bars(big)
    assert wide.data[0].text[0] == "38% (11,393/30,000)"  # thousands separated
    assert wide.layout.xaxis.range[1] == pytest.approx(11393 / 30000 * (1 + 0.04 * 19))  # and room for it


def test_clickable_cells_carry_the_cell():
    from dashboard.figures import charts

    cm = np.array([[2, 1], [0, 3]])
    fig = atlas.clickable_cells(charts.confusion_matrix(cm, ["a", "b"]), ["a", "b"], cm)
    cd = fig.data[-1].customdata
    assert [list(c) for c in cd] == [[0, 0, 2], [0, 1, 1], [1, 0, 0], [1, 1, 3]]
    assert list(fig.data[-1].x) == ["a", "b", "a", "b"] and list(fig.data[-1].y) == ["a", "a", "b", "b"]
