"""``map``: UMAP of the pooled features (seeded; fitted on a sample beyond
``umap_fit_max`` images) and each image's nearest training images."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.embedding import nearest_training_images, umap_2d
from analysis.precompute.stage import Stage


def run(ctx) -> dict:
    feats = ctx.cache.array("features")  # memory-mapped: read in chunks, never whole
    is_train = ctx.rows["split"].to_numpy() == "train"
    neighbors, dist = nearest_training_images(feats, is_train, ctx.param("knn"))
    ctx.cache.write_array("neighbors", neighbors)
    ctx.cache.write_array("neighbor_dist", dist)
    xy = umap_2d(feats, ctx.param("umap_neighbors"), ctx.param("seed"), fit_max=ctx.param("umap_fit_max"))
    table = pd.DataFrame({"row": np.arange(ctx.n), "id": ctx.rows["id"].to_numpy(),
                          "x": xy[:, 0], "y": xy[:, 1]})
    ctx.cache.write_table("umap", table)
    return {"knn": int(min(ctx.param("knn"), is_train.sum()))}


STAGE = Stage(
    name="map", order=10, run=run, params=("umap_neighbors", "knn", "seed", "umap_fit_max"),
    doc="UMAP of the pooled features and each image's nearest training images",
    reads=("features",), writes=("neighbors", "neighbor_dist", "umap"),
)
