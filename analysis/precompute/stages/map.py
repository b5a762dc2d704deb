"""``map``: UMAP of the pooled features (seeded; fitted on a sample beyond
``umap_fit_max`` images, the rest placed by UMAP's transform in worker processes) and each image's nearest training images (an exact cosine index
of the training images, queried in chunks; the answers are written chunk by chunk)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.embedding import CHUNK, training_neighbours, umap_2d
from analysis.precompute.stage import Stage


def run(ctx) -> dict:
    feats = ctx.cache.array("features")  # read in chunks, never whole
    is_train = ctx.rows["split"].to_numpy() == "train"
    k = int(min(ctx.param("knn"), max(int(is_train.sum()) - 1, 0)))  # an image is never its own neighbour
    key = {**ctx.key, **ctx.params(ctx.stage)}
    rows = ctx.cache.streaming("neighbors", (ctx.n, k), "int32", key)
    dist = ctx.cache.streaming("neighbor_dist", (ctx.n, k), "float32", key)
    for a, near, d in training_neighbours(feats, is_train, k, CHUNK):
        rows.write(a, near)
        dist.write(a, d)
    rows.finish()
    dist.finish()
    xy = umap_2d(feats, ctx.param("umap_neighbors"), ctx.param("seed"), fit_max=ctx.param("umap_fit_max"),
                 n_epochs=ctx.param("umap_epochs"))
    table = pd.DataFrame({"row": np.arange(ctx.n), "id": ctx.rows["id"].to_numpy(),
                          "x": xy[:, 0], "y": xy[:, 1]})
    ctx.cache.write_table("umap", table)
    return {"knn": k}


STAGE = Stage(
    name="map", order=10, run=run, params=("umap_neighbors", "knn", "seed", "umap_fit_max", "umap_epochs"), version=4,
    doc="UMAP of the pooled features and each image's nearest training images",
    reads=("features",), writes=("neighbors", "neighbor_dist", "umap"),
)
