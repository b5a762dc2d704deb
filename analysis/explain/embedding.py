"""The model's feature space at a glance: a 2-D UMAP and each image's nearest training images.

Both use cosine distance on the pooled features. Nearest neighbours are exact
(scikit-learn on unit vectors, where cosine distance = ‖a − b‖² / 2).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.neighbors import NearestNeighbors


def unit_rows(feats: np.ndarray) -> np.ndarray:
    return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)


def nearest_training_images(feats: np.ndarray, is_train: np.ndarray, k: int
                            ) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cosine distances)`` of the ``k`` nearest training images of every image,
    nearest first; an image is never its own neighbour."""
    norm = unit_rows(np.asarray(feats, dtype=np.float32))
    train = np.flatnonzero(is_train)
    k = min(k, len(train))
    nn = NearestNeighbors(n_neighbors=min(k + 1, len(train)), metric="euclidean").fit(norm[train])
    dist, idx = nn.kneighbors(norm)
    neighbors = train[idx]
    keep = np.array([[j for j in row if j != i][:k] for i, row in enumerate(neighbors)])
    kd = np.array([[d for j, d in zip(row, drow) if j != i][:k]
                   for i, (row, drow) in enumerate(zip(neighbors, dist))])
    return keep.astype(np.int32), (kd ** 2 / 2).astype(np.float32)


def umap_2d(feats: np.ndarray, n_neighbors: int, seed: int) -> np.ndarray:
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

