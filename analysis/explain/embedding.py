"""The model's feature space at a glance: a 2-D UMAP and each image's nearest training images.

Both use cosine distance on the pooled features. Nearest neighbours are exact
(scikit-learn on unit vectors, where cosine distance = ‖a − b‖² / 2).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.neighbors import NearestNeighbors

CHUNK = 4096
UMAP_FIT_MAX = 20_000
"""Above this many images UMAP is fitted on a seeded sample of this size and the rest are
placed from their nearest sampled neighbours (:func:`umap_2d`)."""


def unit_rows(feats: np.ndarray) -> np.ndarray:
    return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)


def unit_chunks(feats: np.ndarray, chunk: int = CHUNK):
    """``(start, unit rows)`` of a (memory-mapped) feature array, ``chunk`` rows at a time:
    nothing holds every image's features at once."""
    for a in range(0, len(feats), chunk):
        yield a, unit_rows(np.asarray(feats[a:a + chunk], dtype=np.float32))


def nearest_training_images(feats: np.ndarray, is_train: np.ndarray, k: int, chunk: int = CHUNK
                            ) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cosine distances)`` of the ``k`` nearest training images of every image,
    nearest first; an image is never its own neighbour. The index holds the training
    images; the others are queried ``chunk`` rows at a time."""
    train = np.flatnonzero(is_train)
    k = min(k, len(train))
    nn = NearestNeighbors(n_neighbors=min(k + 1, len(train)), metric="euclidean").fit(
        unit_rows(np.asarray(feats[train], dtype=np.float32)))
    keep, kd = np.zeros((len(feats), k), np.int32), np.zeros((len(feats), k), np.float32)
    for a, norm in unit_chunks(feats, chunk):
        dist, idx = nn.kneighbors(norm)
        neighbors = train[idx]
        for i, (row, drow) in enumerate(zip(neighbors, dist)):
            mine = row != a + i
            keep[a + i] = row[mine][:k]
            kd[a + i] = (drow[mine][:k] ** 2 / 2)
    return keep, kd


def umap_2d(feats: np.ndarray, n_neighbors: int, seed: int, fit_max: int = UMAP_FIT_MAX,
            chunk: int = CHUNK) -> np.ndarray:
    """Seeded 2-D UMAP (cosine) of (memory-mapped) features.

    Up to ``fit_max`` images, UMAP is fitted on all of them. Beyond, it is fitted on a
    seeded sample of ``fit_max`` images, and every other image is placed, ``chunk`` at a
    time, at the weighted mean of its ``n_neighbors`` nearest sampled images' positions,
    weighted by UMAP's own fuzzy membership (``smooth_knn_dist``). That is where UMAP's
    ``transform`` starts, without its epochs: the fit costs the same at any size and
    memory stays flat.
    """
    n = len(feats)
    if n <= fit_max:
        return _umap_fit(unit_rows(np.asarray(feats, dtype=np.float32)), n_neighbors, seed)
    sample = np.sort(np.random.default_rng(seed).choice(n, size=fit_max, replace=False))
    base = unit_rows(np.asarray(feats[sample], dtype=np.float32))
    xy = np.zeros((n, 2), np.float32)
    xy[sample] = _umap_fit(base, n_neighbors, seed)
    index = NearestNeighbors(n_neighbors=n_neighbors).fit(base)
    placed = np.ones(n, bool)
    placed[sample] = False
    from umap.umap_ import smooth_knn_dist

    for a, norm in unit_chunks(feats, chunk):
        rows = np.flatnonzero(placed[a:a + len(norm)])
        if not len(rows):
            continue
        dist, idx = index.kneighbors(norm[rows])
        d = (dist ** 2 / 2).astype(np.float32)
        sigma, rho = smooth_knn_dist(d, float(n_neighbors))
        w = np.exp(-np.maximum(d - rho[:, None], 0) / sigma[:, None])
        w /= w.sum(1, keepdims=True)
        xy[a + rows] = np.einsum("nk,nkd->nd", w, xy[sample][idx])
    return xy


def _umap_fit(feats: np.ndarray, n_neighbors: int, seed: int) -> np.ndarray:
    """Seeded 2-D UMAP (cosine); tiny datasets (fewer points than neighbours) fall back to PCA.

    The neighbour graph is exact and handed to UMAP as ``precomputed_knn``: exact instead
    of pynndescent's approximation, and it skips pynndescent's numba compilation, about
    8 s of the first fit in every process.
    """
    if len(feats) < max(n_neighbors + 2, 8):
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(feats) if len(feats) > 2 \
            else np.zeros((len(feats), 2))
    import umap

    unit = unit_rows(feats)
    dist, idx = NearestNeighbors(n_neighbors=n_neighbors).fit(unit).kneighbors(unit)
    knn_dist = (dist ** 2 / 2).astype(np.float32)
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.1, metric="cosine",
                        random_state=seed, n_jobs=1, verbose=False,
                        precomputed_knn=(idx, knn_dist, None))
    with warnings.catch_warnings():  # "transform will be unavailable": streetlens never calls it
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        return reducer.fit_transform(feats).astype(np.float32)


class TrainingIndex:
    """Cosine nearest neighbours among the training images' pooled features, for a photo
    the dataset does not hold (scikit-learn's exact search; the index is built once)."""

    def __init__(self, rows: np.ndarray, feats: np.ndarray):
        self.rows = np.asarray(rows)
        self.dim = feats.shape[1]
        self.index = NearestNeighbors(metric="cosine", algorithm="brute").fit(np.asarray(feats, np.float32))

    @classmethod
    def from_samples(cls, samples, features: np.ndarray) -> TrainingIndex:
        """The training rows of a samples table (every row when there are none)."""
        rows = samples["row"].to_numpy()[samples["split"].to_numpy() == "train"]
        if not len(rows):
            rows = samples["row"].to_numpy()
        return cls(rows, np.asarray(features[rows], dtype=np.float32))

    def nearest(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` training rows most similar to ``query`` and their cosine similarities."""
        k = min(k, len(self.rows))
        dist, idx = self.index.kneighbors(np.asarray(query, np.float32).reshape(1, -1), n_neighbors=k)
        return self.rows[idx[0]], (1.0 - dist[0]).astype(np.float32)

