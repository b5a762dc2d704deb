"""The ``atlas`` stage on the analysed tiny run: a default stage right after ``map``, its
cells agree with the cache's own UMAP, features and samples, and chunking changes nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.explain.atlas_grid import LEVELS, POINT_COLUMNS
from analysis.precompute import all_stages, default_stages
from analysis.precompute.stages import atlas


def test_a_default_stage_after_map():
    names = list(all_stages())
    assert "atlas" in default_stages()
    assert names.index("atlas") > names.index("map")
    assert set(all_stages()["atlas"].reads) == {"umap", "features", "samples"}


def test_cells_match_the_cache(analysed_run):
    run, cache, _ = analysed_run
    cells = cache.table("atlas_cells")
    samples = cache.table("samples").set_index("row")
    umap = cache.table("umap").set_index("row").loc[samples.index]
    feats = np.asarray(cache.array("features")[0:len(samples)], np.float32)
    assert sorted(cells["level"].unique()) == list(LEVELS)
    assert (cells.groupby("level")["count"].sum() == len(samples)).all()
    means = cache.array("atlas_means")
    assert means.shape == (len(cells), feats.shape[1])
    points = np.asarray(cache.array("atlas_points")[0:len(samples)])
    row_col = list(POINT_COLUMNS).index("row")
    for _, r in cells[cells["level"] == 8].iterrows():
        inside = (umap["x"] >= r["x0"]) & (umap["x"] < r["x1"]) & (umap["y"] >= r["y0"]) & (umap["y"] < r["y1"])
        rows = umap.index[inside.to_numpy()].to_numpy()
        assert len(rows) == r["count"]
        part = points[int(r["start"]):int(r["start"] + r["count"])]
        assert sorted(part[:, row_col].astype(int)) == sorted(rows)
        mean = feats[rows].mean(axis=0)
        np.testing.assert_allclose(np.asarray(means[int(r["cell"])]), mean, rtol=1e-4, atol=1e-5)
        d = ((feats[rows] - mean) ** 2).sum(axis=1)
        assert d[rows == r["typical"]][0] <= d.min() * (1 + 1e-5) + 1e-9
        assert r["typical_id"] == samples.loc[r["typical"], "id"]
        assert r["typical_path"] == samples.loc[r["typical"], "path"]
        classes = samples.loc[rows, "y_class"].to_numpy()
        assert [r[f"n_class_{k}"] for k in range(len(run.labels.classes))] == \
            np.bincount(classes, minlength=len(run.labels.classes)).tolist()
        assert r["accuracy"] == pytest.approx(samples.loc[rows, "correct"].mean())
    assert cache.has("atlas_featvis")


def test_chunked_build_equals_whole(analysed_run):
    run, cache, _ = analysed_run
    whole, _ = atlas.build(cache, run.labels.classes)
    part, _ = atlas.build(cache, run.labels.classes, chunk=7)
    pd.testing.assert_frame_equal(whole.cells.drop(columns="typical_dist"), part.cells.drop(columns="typical_dist"))
    np.testing.assert_allclose(whole.means, part.means, rtol=1e-5, atol=1e-6)
