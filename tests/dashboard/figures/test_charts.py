"""Pure chart functions: plotly figures (and the runs table's Styler) from tiny data."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from dashboard.figures import charts, images

CM = [[8, 2, 0], [1, 9, 0], [0, 0, 0]]  # the third class has no images
LABELS = ["tokyo", "paris", "seoul"]


def test_confusion_z_is_the_row_normalised_matrix_with_counts_in_customdata():
    fig = charts.confusion_matrix(CM, LABELS)
    heat = fig.data[0]
    expected = np.array([[0.8, 0.2, 0.0], [0.1, 0.9, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(np.asarray(heat.z, float), expected)
    custom = np.asarray(heat.customdata)
    np.testing.assert_array_equal(custom[..., 0], CM)                       # counts
    np.testing.assert_array_equal(custom[1, 2, 1:], [1, 2])                  # row, column
    assert list(heat.x) == LABELS and list(heat.y) == LABELS
    assert heat.text[0][0] == "80%" and heat.text[2][2] == ""               # no text for empty cells
    assert fig.layout.yaxis.autorange == "reversed"                         # first class on top
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"


def test_confusion_counts_when_not_normalised_and_clickable_cells():
    fig = charts.confusion_matrix(CM, LABELS, normalise=False, title="test")
    np.testing.assert_array_equal(np.asarray(fig.data[0].z, float), CM)
    cells = fig.data[1]  # invisible markers: plotly heatmaps emit no click events
    assert cells.type == "scatter" and len(cells.x) == 9
    k = 0 * 3 + 1  # row tokyo, column paris
    assert (cells.y[k], cells.x[k]) == ("tokyo", "paris")
    assert list(cells.customdata[k]) == [2, 0, 1, 0.2]
    assert "images" in cells.hovertemplate
    with pytest.raises(ValueError):
        charts.confusion_matrix([[1, 2]], LABELS)


def test_prediction_bars_sorted_with_true_class_marked():
    fig = charts.prediction_bars([0.1, 0.6, 0.3], LABELS, true="seoul", title="City")
    bar = fig.data[0]
    assert list(bar.y) == ["paris", "seoul  ✓ true", "tokyo"]
    assert list(bar.x) == [0.6, 0.3, 0.1]
    assert list(bar.marker.color) == [charts.COLORS["wrong"], charts.COLORS["true"], charts.COLORS["other"]]
    assert list(bar.text) == ["60.0%", "30.0%", "10.0%"]
    assert list(bar.customdata) == [1, 2, 0]
    right = charts.prediction_bars([0.7, 0.2, 0.1], LABELS, true=0)
    assert right.data[0].marker.color[0] == charts.COLORS["pred"]


def test_prediction_bars_top_keeps_the_true_class():
    p = [0.5, 0.3, 0.15, 0.05]
    fig = charts.prediction_bars(p, ["a", "b", "c", "d"], true="d", top=2)
    assert list(fig.data[0].y) == ["a", "d  ✓ true"]
    with pytest.raises(ValueError):
        charts.prediction_bars([0.5, 0.5], LABELS)


def test_training_curves_traces_and_best_epoch():
    h = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [2, 1, 0.5], "val_loss": [2.2, 1.4, 1.0],
                      "train_city_acc": [0.4, 0.6, 0.8], "val_city_acc": [0.3, 0.5, 0.7],
                      "val_group_acc": [0.6, 0.7, 0.8], "lr": [1e-3] * 3})
    fig = charts.training_curves(h, best_epoch=2)
    names = [t.name for t in fig.data]
    assert names == ["train loss", "val loss", "train city", "val city", "val group (East/West)"]
    assert list(fig.data[3].y) == [0.3, 0.5, 0.7]
    assert [t.xaxis for t in fig.data] == ["x", "x", "x2", "x2", "x2"]  # loss left, accuracy right
    assert sum(1 for s in fig.layout.shapes if s.x0 == 2) == 2        # best epoch in both panels
    assert any("epoch 2" in a.text for a in fig.layout.annotations)
    empty = charts.training_curves(pd.DataFrame())
    assert not empty.data and any("no training history" in a.text for a in empty.layout.annotations)


def test_attribution_bars_colours_and_icons():
    icons = [images.placeholder_icon(16), None, np.zeros((8, 8, 3), np.uint8)]
    fig = charts.channel_bars([0.5, -0.2, 0.1], [415, 7, 12], icons=icons)
    bar = fig.data[0]
    assert list(bar.y) == ["channel 415", "channel 7", "channel 12"]
    assert list(bar.marker.color) == [charts.COLORS["positive"], charts.COLORS["negative"],
                                      charts.COLORS["positive"]]
    assert len(fig.layout.images) == 2  # None gets no icon
    assert fig.layout.images[0].source.startswith("data:image/png;base64,")
    assert fig.layout.images[0].y == "channel 415"
    shares = charts.attribution_bars([0.4, 0.6], ["g1", "g2"], colors=["#111111", "#222222"],
                                     value_format="+.0%")
    assert list(shares.data[0].text) == ["+40%", "+60%"] and shares.layout.xaxis.tickformat == ".0%"
    with pytest.raises(ValueError):
        charts.attribution_bars([1, 2], ["one"])


def comparison_frame() -> pd.DataFrame:
    return pd.DataFrame([
        {"run": "a", "dataset": "demo", "backbone": "efficientnet_lite0", "weights": "imagenet",
         "mode": "transfer", "val_city": 0.9, "test_city": 0.8912, "test_city_f1": 0.88,
         "val_group": 0.95, "test_group": 0.94, "epochs": 12, "train_s": 61.4},
        {"run": "b", "dataset": "demo", "backbone": "efficientnet_lite0", "weights": "imagenet",
         "mode": "finetune", "val_city": 0.95, "test_city": 0.93, "test_city_f1": None,
         "val_group": 0.97, "test_group": 0.96, "epochs": 7, "train_s": 300.0},
    ])


def test_style_comparison_formats_highlights_and_renames():
    styler = charts.style_comparison(comparison_frame(), selected="a")
    html = styler.to_html()
    assert "89.1%" in html and "93.0%" in html and "–" in html  # percentages; missing as a dash
    assert "test city" in html and "val_city" not in html      # readable column names
    assert "0.8912" not in html
    styler._compute()
    ctx = styler.ctx  # (row, col) → css of each styled cell
    assert ("background-color", "#fff3c4") in ctx[(0, 0)] and ("background-color", "#fff3c4") not in ctx[(1, 0)]
    col = list(styler.data.columns).index("test city")
    assert ("font-weight", "700") in ctx[(1, col)]  # best test accuracy is run b's
    assert all(p != ("font-weight", "700") for p in ctx.get((0, col), []))
    raw = charts.style_comparison(comparison_frame(), rename=False)
    assert "val_city" in raw.to_html()


def test_html_bars_lengths_colours_and_escaping():
    import re

    html = charts.html_bars([2.0, -1.0, 0.5], ["a<b", "kyoto", "tokyo"], width_px=100)
    widths = [int(w) for w in re.findall(r"<div style=\"width:(\d+)px", html)]
    assert widths == [100, 50, 25]  # |value| relative to the largest
    colours = re.findall(r"background:(#[0-9a-f]{6})", html)
    assert colours == [charts.COLORS["positive"], charts.COLORS["negative"], charts.COLORS["positive"]]
    assert "a&lt;b" in html and "a<b" not in html
    assert re.findall(r"nowrap\">([+-][0-9.]+)</td></tr>", html) == ["+2.00", "-1.00", "+0.50"]
    assert "width:0px" in charts.html_bars([0.0, 0.0], ["x", "y"])  # all zero: no division by zero


def test_html_prediction_bars_match_the_plotly_bars():
    """Same order, colours, true-class mark and percentages as ``prediction_bars``."""
    import re

    probs = [0.1, 0.6, 0.3]
    fig = charts.prediction_bars(probs, LABELS, true="seoul")
    markup = charts.html_prediction_bars(probs, LABELS, true="seoul", title="City <b>", width_px=100)
    assert "City &lt;b&gt;" in markup  # the title is escaped
    names = re.findall(r'text-align:right;white-space:nowrap">([^<]*)</td>', markup)
    assert names == list(fig.data[0].y)
    assert re.findall(r"background:(#[0-9a-f]{6})", markup) == list(fig.data[0].marker.color)
    assert re.findall(r"width:(\d+)px;height:14px", markup) == ["60", "30", "10"]  # p × width_px
    assert re.findall(r">(\d+\.\d%)</td>", markup) == list(fig.data[0].text)
    top = charts.html_prediction_bars([0.5, 0.3, 0.15, 0.05], ["a", "b", "c", "d"], true="d", top=2)
    assert re.findall(r'nowrap">([^<%]*)</td>', top) == ["a", "d  ✓ true"]


def test_html_bars_icons_one_inline_png_per_row():
    import base64
    import io

    from PIL import Image

    red = np.zeros((6, 6, 3), np.uint8)
    red[..., 0] = 255
    markup = charts.html_bars([0.2, -0.1, 0.05], ["a", "b", "c"], icons=[red, None, red], icon_px=32)
    uris = re.findall(r'<img src="data:image/png;base64,([^"]+)" width="32"', markup)
    assert len(uris) == 2 and markup.count("<tr>") == 3  # the row without an icon keeps its cell
    img = Image.open(io.BytesIO(base64.b64decode(uris[0])))
    assert img.size == (6, 6) and img.getpixel((0, 0)) == (255, 0, 0)
    assert "<img" not in charts.html_bars([0.2], ["a"])
