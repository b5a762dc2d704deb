"""What the Atlas page reads of the atlas (the analysed tiny run): visible cells, a region's
images (all, or a capped sample), one cell's images, a cell's feature visualisation
rendered once with the cache's settings then read, and single sample rows."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.explain.atlas_grid import POINT_COLUMNS
from analysis.precompute import atlas_featvis, atlas_views
from analysis.precompute import featvis_on_demand as fod
from analysis.store import RunCache
from analysis.train.runs import load_model


@pytest.fixture(scope="module")
def atlas(analysed_run):
    _, cache, _ = analysed_run
    return cache, cache.table("atlas_cells"), cache.table("umap")


def test_whole_plane_and_levels(atlas):
    cache, cells, umap = atlas
    x0, x1, y0, y1 = atlas_views.whole(cells)
    assert x0 <= umap["x"].min() and umap["x"].max() < x1 and y0 <= umap["y"].min() and umap["y"].max() < y1
    assert x1 - x0 == pytest.approx(y1 - y0)
    assert atlas_views.levels(cells) == [8, 16, 32, 64]
    assert len(atlas_views.visible(cells, 8, None)) == (cells["level"] == 8).sum()


def test_region_points_are_exactly_the_images_inside(atlas):
    cache, cells, umap = atlas
    x0, x1, y0, y1 = atlas_views.whole(cells)
    window = (x0, (x0 + x1) / 2, y0, y1)
    region = atlas_views.region_points(cache, cells, window, cap=10_000)
    inside = umap[(umap["x"] >= window[0]) & (umap["x"] <= window[1])]
    assert sorted(region.points["row"]) == sorted(inside["row"]) and not region.sampled
    every = atlas_views.region_points(cache, cells, None, cap=10_000)
    assert sorted(every.points["row"]) == sorted(umap["row"])
    # the whole plane as a window (its corner rebuilt from a cell's edges) holds every image too
    framed = atlas_views.region_points(cache, cells, atlas_views.whole(cells), cap=10_000)
    assert sorted(framed.points["row"]) == sorted(umap["row"])
    merged = every.points.merge(umap, on="row", suffixes=("", "_u"))
    np.testing.assert_allclose(merged["x"], merged["x_u"], rtol=1e-6)


def test_a_point_binned_past_its_edge_is_still_found():
    """The grid bins by dividing, the cells' edges come from multiplying: a point one float
    short of an edge can land in the next cell (found by search: this plane, level 64, the
    edge of cell 2). A window ending on that edge must still return the point."""
    from analysis.explain.atlas_grid import Plane

    p, n = Plane(-0.7322673547034516, 0.0, 17.400399524647845), 64
    edge = float(p.bounds(n, 2, 0)[0])
    x = float(np.nextafter(edge, -np.inf))
    assert x < edge and p.cells(np.array([x]), np.array([0.1]), n)[0][0] == 2  # binned past its edge
    ix = np.arange(n)
    x0, x1, y0, y1 = p.bounds(n, ix, np.zeros(n))
    cells = pd.DataFrame({"level": n, "ix": ix, "iy": 0, "x0": x0, "x1": x1, "y0": y0, "y1": y1,
                          "start": np.where(ix == 2, 0, 1), "count": np.where(ix == 2, 1, 0)})
    points = np.zeros((1, len(POINT_COLUMNS)))
    points[0, POINT_COLUMNS.index("x")], points[0, POINT_COLUMNS.index("y")] = x, 0.1

    class Cache:
        def array(self, name):
            assert name == "atlas_points"
            return points

    region = atlas_views.region_points(Cache(), cells, (p.x0, edge, 0.0, 1.0), cap=10)
    assert len(region.points) == 1 and region.points["x"].iat[0] == x


def test_region_points_are_capped(atlas):
    cache, cells, umap = atlas
    for cap in (10, 30):  # 30: the sampled read (more than 2 × cap in the cells)
        region = atlas_views.region_points(cache, cells, None, cap=cap)
        assert len(region.points) == cap and region.sampled
        assert region.points["row"].is_unique and set(region.points["row"]) <= set(umap["row"])
    assert atlas_views.region_points(cache, cells, None, cap=10).total == len(umap)


def test_cell_points_start_with_the_typical_image(atlas):
    cache, cells, _ = atlas
    cell = cells[cells["level"] == 8].sort_values("count").iloc[-1]
    pts = atlas_views.cell_points(cache, cell, limit=5)
    assert pts["row"].iloc[0] == cell["typical"] and len(pts) == min(5, cell["count"])
    both = atlas_views.cells_points(cache, cells[cells["level"] == 8].head(2), limit=100)
    assert len(both) == cells[cells["level"] == 8].head(2)["count"].sum()


def test_zoom_level_shows_enough_cells_across(atlas):
    _, cells, _ = atlas
    x0, x1, y0, y1 = atlas_views.whole(cells)
    side = x1 - x0
    assert atlas_views.zoom_level(cells, (x0, x1, y0, y1)) == 8
    assert atlas_views.zoom_level(cells, (x0, x0 + side / 4, y0, y0 + side / 4)) == 32
    assert atlas_views.zoom_level(cells, (x0, x0 + side / 16, y0, y0 + side / 16)) is None


def test_sample_rows_reads_those_rows_in_order(atlas):
    cache, _, _ = atlas
    samples = cache.table("samples")
    got = atlas_views.sample_rows(cache, [5, 2, 40], ["id", "class"])
    assert got["row"].tolist() == [5, 2, 40]
    assert got["id"].tolist() == samples.set_index("row").loc[[5, 2, 40], "id"].tolist()


def test_cell_featvis_rendered_once_then_read(analysed_run, tmp_path):
    run, cache, _ = analysed_run
    root = tmp_path / cache.root.name
    shutil.copytree(cache.root, root)
    cache = RunCache(root)
    cell = int(cache.table("atlas_cells").sort_values("count").iloc[-1]["cell"])
    assert atlas_featvis.existing(cache, cell) is None
    loads = []

    def model_fn():
        loads.append(1)
        return load_model(run)

    path = atlas_featvis.ensure_cell_picture(cache, run, model_fn, cell)
    assert atlas_featvis.existing(cache, cell) == path and path.parent == cache.path("atlas_featvis")
    assert atlas_featvis.ensure_cell_picture(cache, run, model_fn, cell) == path and loads == [1]
    with Image.open(path) as im:
        got = np.asarray(im.convert("RGB"))
    settings = fod.FeatvisSettings.for_cache(cache)
    assert got.shape == (settings.size, settings.size, 3)
    expected = fod.render(load_model(run), run, [("direction", atlas_views.cell_direction(cache, cell))],
                          settings)[0]
    assert np.abs(got.astype(int) - np.asarray(expected.convert("RGB")).astype(int)).max() <= 1
