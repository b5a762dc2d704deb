"""The model's feature space at a glance: a 2-D UMAP and each image's nearest training images.

Both use cosine distance on the pooled features. Each image's nearest training images
come from a cosine index of the training images (faiss, ``knn.py``: exact up to
``knn.EXACT_MAX`` training images, an inverted file beyond), queried in chunks; UMAP's own
neighbour graph (at most ``UMAP_FIT_MAX`` images) and the neighbours of the images its
transform places come from an exact index of the fitted sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

from analysis.explain.knn import CosineIndex, unit_rows
from analysis.explain.umap_transform import Layout, numba_cached, transform_all

CHUNK = 4096
UMAP_FIT_MAX = 5_000
"""Above this many images UMAP is fitted on a seeded sample of this size and the rest are
placed by UMAP's ``transform``, in parallel (:func:`umap_2d`)."""


def unit_chunks(feats: np.ndarray, chunk: int = CHUNK):
    """``(start, unit rows)`` of a (memory-mapped) feature array, ``chunk`` rows at a time:
    nothing holds every image's features at once."""
    for a in range(0, len(feats), chunk):
        yield a, unit_rows(feats[a:a + chunk])


def training_neighbours(feats, is_train: np.ndarray, k: int, chunk: int = CHUNK
                        ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(start, rows, cosine distances)``, ``chunk`` images at a time, of the ``k`` nearest
    training images of every image, nearest first; an image is never its own neighbour.
    The training images are held in a cosine index (``knn.CosineIndex``), filled and
    queried ``chunk`` rows at a time: memory is the index, never a matrix of all pairs."""
    index = CosineIndex.from_rows(feats, np.flatnonzero(is_train), chunk)
    for a, rows, sims in index.search_rows(feats, k, chunk, exclude_self=True):
        yield a, rows.astype(np.int32), cosine_distance(sims)


def nearest_training_images(feats: np.ndarray, is_train: np.ndarray, k: int, chunk: int = CHUNK
                            ) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cosine distances)`` (N, k) of :func:`training_neighbours`, gathered."""
    parts = list(training_neighbours(feats, is_train, k, chunk))
    return np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def umap_2d(feats: np.ndarray, n_neighbors: int, seed: int, fit_max: int = UMAP_FIT_MAX,
            chunk: int = CHUNK, workers: int | None = None, n_epochs: int | None = None) -> np.ndarray:
    """Seeded 2-D UMAP (cosine) of (memory-mapped) features.

    Up to ``fit_max`` images, UMAP is fitted on all of them. Beyond, it is fitted on a
    seeded sample of ``fit_max`` images, and every other image is placed by UMAP's
    ``transform`` (``umap_transform.py``), ``chunk`` images at a time in ``workers``
    processes: the fit costs the same at any size, the rest grows linearly, and memory
    stays flat.
    """
    n = len(feats)
    if n <= fit_max:
        return _umap_fit(unit_rows(feats), n_neighbors, seed, n_epochs)[0]
    sample = np.sort(np.random.default_rng(seed).choice(n, size=fit_max, replace=False))
    base = unit_rows(feats[sample])
    xy = np.zeros((n, 2), np.float32)
    xy[sample], layout = _umap_fit(base, n_neighbors, seed, n_epochs)
    index = CosineIndex.from_rows(base)
    placed = np.ones(n, bool)
    placed[sample] = False

    def neighbour_chunks():
        for a, norm in unit_chunks(feats, chunk):
            rows = np.flatnonzero(placed[a:a + len(norm)])
            if len(rows):
                yield (a, *cosine_knn(index, norm[rows], n_neighbors))

    for a, positions in transform_all(neighbour_chunks(), layout, int(placed.sum()), seed, workers):
        xy[a + np.flatnonzero(placed[a:a + chunk])] = positions
    return xy


def _umap_fit(feats: np.ndarray, n_neighbors: int, seed: int, n_epochs: int | None = None
              ) -> tuple[np.ndarray, Layout | None]:
    """Seeded 2-D UMAP (cosine) and what its ``transform`` needs; tiny datasets (fewer
    points than neighbours) fall back to PCA (and no layout).

    The neighbour graph is exact (faiss) and handed to UMAP as ``precomputed_knn``: exact
    instead of pynndescent's approximation, and it skips pynndescent's numba compilation, about
    8 s of the first fit in every process. UMAP's own numba code is cached on disk.
    """
    if len(feats) < max(n_neighbors + 2, 8):
        from sklearn.decomposition import PCA

        xy = PCA(n_components=2, random_state=seed).fit_transform(feats) if len(feats) > 2 \
            else np.zeros((len(feats), 2))
        return np.asarray(xy, np.float32), None
    numba_cached()
    import umap

    unit = unit_rows(feats)
    idx, knn_dist = cosine_knn(CosineIndex.from_rows(unit), unit, n_neighbors)
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.1, metric="cosine",
                        random_state=seed, n_jobs=1, verbose=False, n_epochs=n_epochs,
                        precomputed_knn=(idx, knn_dist, None))
    with warnings.catch_warnings():  # "transform will be unavailable": umap_transform.py does it
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        xy = reducer.fit_transform(feats).astype(np.float32)
    return xy, Layout.of(reducer)


def cosine_distance(sims: np.ndarray) -> np.ndarray:
    """Cosine distance (float32, never below 0) from the index's cosine similarities."""
    return np.maximum(1.0 - sims, 0.0).astype(np.float32)


def cosine_knn(index: CosineIndex, queries: np.ndarray, k: int, chunk: int = CHUNK
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(rows (n, k) int64, cosine distances (n, k) float32)`` of ``queries`` on an exact
    faiss index (twice as fast as scikit-learn's brute force on 1,280 features)."""
    parts = list(index.search_rows(queries, k, chunk))
    return np.concatenate([p[1] for p in parts]), cosine_distance(np.concatenate([p[2] for p in parts]))


class TrainingIndex:
    """Cosine nearest neighbours among the training images' pooled features, for a photo
    the dataset does not hold (an exact faiss index, ``knn.CosineIndex``, built once)."""

    def __init__(self, rows: np.ndarray, index: CosineIndex):
        self.rows = np.asarray(rows)
        self.index = index  # its ids are the cache rows
        self.dim = index.dim

    @classmethod
    def from_samples(cls, samples, features) -> TrainingIndex:
        """The training rows of a samples table (every row when there are none), their
        features read from ``features`` (the cache's array) in chunks."""
        rows = samples["row"].to_numpy()[samples["split"].to_numpy() == "train"]
        if not len(rows):
            rows = samples["row"].to_numpy()
        return cls(rows, CosineIndex.from_rows(features, rows))

    def nearest(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` training rows most similar to ``query`` and their cosine similarities."""
        ids, sims = self.index.search(np.asarray(query, np.float32).reshape(1, -1), k)
        return ids[0], sims[0].astype(np.float32)
