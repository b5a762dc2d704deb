"""``atlas``: the activation atlas of the UMAP plane — at every zoom level each cell's
image count, class mix, accuracy, mean activation and most typical image (see
:mod:`analysis.explain.atlas_grid`), so the Atlas page draws a million images from a few
thousand rows. Streams the features in row chunks (memory stays flat)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.atlas_grid import LEVELS, POINT_COLUMNS, aggregate, parse_levels
from analysis.precompute.stage import Stage

SPLITS = ("train", "val", "test")


def split_names(samples: pd.DataFrame) -> tuple[str, ...]:
    """train, val, test, then any other split the samples name (sorted)."""
    seen = set(samples["split"].astype(str).unique())
    return tuple(s for s in SPLITS if s in seen) + tuple(sorted(seen - set(SPLITS)))


def build(cache, classes, levels=LEVELS, chunk: int | None = None):
    """The atlas of a cache (its ``umap``, ``features`` and ``samples``), not yet written."""
    samples = cache.table("samples").sort_values("row")
    umap = cache.table("umap").set_index("row").loc[samples["row"].to_numpy()]
    index = {c: i for i, c in enumerate(classes)}
    labels = pd.DataFrame({"y_class": samples["y_class"].to_numpy(np.int64),
                           "pred": samples["pred_class"].astype(str).map(index).fillna(0).to_numpy(np.int64),
                           "correct": samples["correct"].to_numpy(bool),
                           "split": samples["split"].astype(str).to_numpy(),
                           "p_pred": samples["p_pred"].to_numpy(np.float64)})
    splits = split_names(samples)
    grid = aggregate(umap["x"].to_numpy(), umap["y"].to_numpy(), cache.array("features"), labels,
                     len(classes), splits, levels, chunk=chunk)
    typical = samples.set_index("row").loc[grid.cells["typical"].to_numpy(), ["id", "path"]]
    grid.cells["typical_id"] = typical["id"].astype(str).to_numpy()
    grid.cells["typical_path"] = typical["path"].astype(str).to_numpy()
    return grid, splits


def run(ctx) -> dict:
    levels = parse_levels(ctx.param("atlas_levels"))
    grid, splits = build(ctx.cache, ctx.run.labels.classes, levels)
    ctx.cache.write_array("atlas_means", grid.means)
    ctx.cache.write_array("atlas_points", grid.points)
    ctx.cache.write_table("atlas_cells", grid.cells)
    ctx.cache.path("atlas_featvis").mkdir(parents=True, exist_ok=True)  # filled on demand
    return {"levels": list(levels), "cells": len(grid.cells), "splits": list(splits),
            "plane": [grid.plane.x0, grid.plane.y0, grid.plane.side]}


STAGE = Stage(
    name="atlas", order=11, run=run, params=("atlas_levels",),
    defaults={"atlas_levels": ",".join(str(n) for n in LEVELS)},
    doc="the activation atlas: the UMAP plane in cells at several zoom levels, each with its "
        "count, class mix, mean activation and most typical image",
    reads=("umap", "features", "samples"), writes=("atlas_cells", "atlas_means", "atlas_points", "atlas_featvis"),
    new_artefacts=(
        ("atlas_cells", "table", "one row per (level, cell) of the UMAP grid: bounds, count, typical "
                                 "image, class mix, accuracy, where its images start in atlas_points"),
        ("atlas_means", "array", "(cells, C) each atlas cell's mean pooled feature (rows of atlas_cells)"),
        ("atlas_points", "array", "(N, " + str(len(POINT_COLUMNS)) + ") every image's x, y, row, class, "
                                  "prediction, correct, split, confidence, in the atlas's Morton order"),
        ("atlas_featvis", "folder", "feature visualisations of atlas cells' mean activations, on demand"),
    ),
)
