"""The activation atlas's figures: a mosaic with each cell where it lies (north up), one
WebGL marker per cell carrying its id, and single images as WebGL points, capped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.explain.atlas_grid import aggregate
from dashboard.figures import activation_atlas as aa
from dashboard.figures import atlas

CLASSES = ["paris", "seoul", "tokyo"]
SPLITS = ["train", "val", "test"]


def tiny_grid(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10, size=(n, 2))
    xy[0], xy[1] = (0, 0), (10, 10)
    labels = pd.DataFrame({"y_class": (xy[:, 0] // 3.4).astype(int), "pred": rng.integers(0, 3, n),
                           "correct": rng.random(n) < 0.7, "split": rng.choice(SPLITS, n), "p_pred": rng.random(n)})
    grid = aggregate(xy[:, 0], xy[:, 1], rng.normal(size=(n, 4)).astype(np.float32), labels, 3, SPLITS, (2, 4))
    grid.cells["typical_id"] = "id"
    return grid


def test_cell_keys_are_the_majorities():
    cells = tiny_grid().cells
    keys, shares = aa.cell_keys(cells, "class", CLASSES, SPLITS)
    assert keys == [CLASSES[k] for k in cells["majority"]]
    np.testing.assert_allclose(shares, cells["majority_share"])
    keys, shares = aa.cell_keys(cells, "correctness", CLASSES, SPLITS)
    assert keys == ["correct" if a >= 0.5 else "wrong" for a in cells["accuracy"]]
    keys, _ = aa.cell_keys(cells, "group", CLASSES, SPLITS, {"paris": "West", "seoul": "East", "tokyo": "East"})
    assert set(keys) <= {"West", "East"}


def test_mosaic_puts_each_cell_in_its_place_north_up():
    grid = tiny_grid()
    cells = grid.cells[grid.cells["level"] == 2]
    window = (grid.plane.x0, grid.plane.x0 + grid.plane.side, grid.plane.y0, grid.plane.y0 + grid.plane.side)
    colors = ["#ff0000", "#00ff00", "#0000ff", "#ffff00"]
    thumbs = {int(c): Image.new("RGB", (8, 8), col) for c, col in zip(cells["cell"], colors)}
    pic = aa.mosaic(cells, window, ["#000000"] * len(cells), [1.0] * len(cells), thumbs, max_px=64)
    assert pic.size == (64, 64)
    for (ix, iy), col in zip(cells[["ix", "iy"]].to_numpy(), colors):
        centre = (int(ix) * 32 + 16, (1 - int(iy)) * 32 + 16)  # iy = 0 is the bottom row
        assert pic.getpixel(centre) == Image.new("RGB", (1, 1), col).getpixel((0, 0))
        assert pic.getpixel((int(ix) * 32, (1 - int(iy)) * 32)) == (0, 0, 0)  # the frame


def test_atlas_figure_one_marker_per_cell(monkeypatch):
    grid = tiny_grid()
    cells = grid.cells[grid.cells["level"] == 4]
    window = (grid.plane.x0, grid.plane.x0 + grid.plane.side, grid.plane.y0, grid.plane.y0 + grid.plane.side)
    keys, shares = aa.cell_keys(cells, "class", CLASSES, SPLITS)
    order, palette = atlas.color_scheme("class", keys, CLASSES)
    colors = [palette[k] for k in keys]
    fig = aa.atlas_figure(cells, window, aa.mosaic(cells, window, colors, shares), colors,
                          {k: palette[k] for k in order}, CLASSES)
    assert all(t.type == "scatter" for t in fig.data)  # SVG up to a 64 × 64 grid: the picture is the raster
    marks = fig.data[0]
    assert len(marks.x) == len(cells) and [int(c[0]) for c in marks.customdata] == cells["cell"].tolist()
    assert "images" in marks.text[0]
    assert [t.name for t in fig.data[1:]] == CLASSES
    assert len(fig.layout.images) == 1 and fig.layout.images[0].sizex == grid.plane.side
    # the mosaic travels as a JPEG that decodes back to the picture (up to JPEG's loss)
    import base64
    import io

    src = fig.layout.images[0].source
    assert src.startswith("data:image/jpeg;base64,")
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))), np.float64)
    mosaic = np.asarray(aa.mosaic(cells, window, colors, shares), np.float64)
    assert back.shape == mosaic.shape and np.abs(back - mosaic).mean() < 4
    # beyond SVG_CELLS cells the markers are WebGL
    monkeypatch.setattr(aa, "SVG_CELLS", len(cells) - 1)
    fig = aa.atlas_figure(cells, window, None, colors, {k: palette[k] for k in order}, CLASSES)
    assert fig.data[0].type == "scattergl" and all(t.type == "scatter" for t in fig.data[1:])


def test_points_figure_is_webgl_and_holds_what_it_is_given():
    grid = tiny_grid()
    pts = pd.DataFrame(grid.points, columns=["x", "y", "row", "class", "pred", "correct", "split", "p_pred"])
    pts = pts.astype({"row": int, "class": int, "pred": int, "split": int, "correct": bool})
    window = (0.0, 10.0, 0.0, 10.0)
    keys = aa.point_keys(pts, "correctness", CLASSES, SPLITS)
    order, palette = atlas.color_scheme("correctness", keys, CLASSES)
    fine = grid.cells[grid.cells["level"] == 4]
    fig = aa.points_figure(pts, keys, order, palette, CLASSES, SPLITS, window, bins=fine)
    scatters = [t for t in fig.data if t.type == "scattergl"]
    assert sum(len(t.x) for t in scatters) == len(pts)
    assert sorted(int(r) for t in scatters for r in np.asarray(t.customdata)[:, 0]) == sorted(pts["row"])
    wrong = [t for t in scatters if t.name.startswith("wrong")][0]
    assert wrong.marker.symbol == "x" and len(wrong.x) == int((~pts["correct"]).sum())
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 1 and np.nansum(10 ** np.asarray(heat[0].z, float) - 1) == pytest.approx(len(pts))
