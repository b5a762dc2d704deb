"""UMAP's ``transform`` for images the fit did not see (in worker processes when they are many).

Beyond ``UMAP_FIT_MAX`` images, UMAP is fitted on a seeded sample (``embedding.py``); every
other image is placed by the steps of ``umap.UMAP.transform``: its nearest sampled images
(here an exact cosine search instead of pynndescent's index, which a fit on a precomputed
neighbour graph does not have), their fuzzy membership strengths (``smooth_knn_dist``,
``compute_membership_strengths``), a start at the membership-weighted mean of their
positions, then UMAP's own SGD (``optimize_layout_euclidean``) against the fixed sample.

The parent finds neighbours chunk by chunk; from ``PARALLEL_FROM`` new images on, the SGD
of each chunk runs in a worker process (joblib), a bounded number of chunks in flight, so
memory stays flat (below, here: starting the workers costs more than it saves). Each chunk
has its own seed, so the layout depends on the chunk size, never on the number of workers.

UMAP's numba functions are compiled in every new process (about 8 s); :func:`numba_cached`
keeps the compiled code on disk, so only the first process on a machine pays for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import numpy as np

INT32_MIN, INT32_MAX = np.iinfo(np.int32).min + 1, np.iinfo(np.int32).max - 1  # as umap draws its seeds
COSINE_DISCONNECTION = 2.0  # umap's DISCONNECTION_DISTANCES["cosine"]
PARALLEL_FROM = 100_000
"""New points from which the transform starts worker processes: 15,000 points took 2.4 s in
two workers (their start included) and about 1 s here; 100,000 took 5.4 s in two, 6.1 s here."""


@cache
def numba_cached() -> None:
    """Let UMAP's numba functions cache their machine code on disk (umap does not ask for
    it; numba's ``enable_caching`` is what ``cache=True`` does). Safe to call often."""
    import importlib

    from numba.core.registry import CPUDispatcher

    for name in ("umap.umap_", "umap.layouts", "umap.utils"):
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and not value.py_func.__name__.startswith("<"):
                try:
                    value.enable_caching()
                except Exception:  # a function numba cannot cache stays compiled per process
                    pass


@dataclass(frozen=True)
class Layout:
    """What the transform needs of a fitted UMAP: the sample's positions and the curve."""

    embedding: np.ndarray  # (n_fit, 2) float32
    a: float
    b: float
    n_neighbors: int
    repulsion_strength: float = 1.0
    initial_alpha: float = 1.0
    negative_sample_rate: int = 5
    fit_epochs: int | None = None  # the fit's ``n_epochs`` (None: umap's default)

    @classmethod
    def of(cls, reducer) -> Layout:
        return cls(np.asarray(reducer.embedding_, np.float32), float(reducer._a), float(reducer._b),
                   int(reducer.n_neighbors), float(reducer.repulsion_strength), float(reducer._initial_alpha),
                   int(reducer.negative_sample_rate), reducer.n_epochs)


def transform_epochs(n_new: int, fit_epochs: int | None = None) -> int:
    """UMAP's own rule: a third of the fit's epochs when it set them; otherwise 100 epochs
    up to 10,000 new points, 30 beyond."""
    if fit_epochs is not None:
        return int(fit_epochs // 3.0)
    return 100 if n_new <= 10_000 else 30


def chunk_seed(seed: int, start: int) -> np.ndarray:
    """The rng state of the chunk starting at ``start`` (umap's three int64 words)."""
    return np.random.RandomState([seed, start]).randint(INT32_MIN, INT32_MAX, 3).astype(np.int64)


def transform_chunk(indices: np.ndarray, dists: np.ndarray, layout: Layout, n_epochs: int,
                    rng_state: np.ndarray) -> np.ndarray:
    """Positions of new points from their ``indices`` / cosine ``dists`` (n, k) to the
    fitted sample: ``umap.UMAP.transform`` after its neighbour search."""
    import scipy.sparse
    from umap.layouts import optimize_layout_euclidean
    from umap.umap_ import compute_membership_strengths, make_epochs_per_sample, smooth_knn_dist

    numba_cached()
    indices = np.array(indices, dtype=np.int32)
    dists = np.ascontiguousarray(dists, dtype=np.float32)
    indices[dists >= COSINE_DISCONNECTION] = -1
    sigmas, rhos = smooth_knn_dist(dists, float(layout.n_neighbors), local_connectivity=0.0)
    rows, cols, vals, _ = compute_membership_strengths(indices, dists, sigmas, rhos, bipartite=True)
    graph = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(len(indices), len(layout.embedding)))
    csr = graph.tocsr()
    csr.eliminate_zeros()
    embedding = init_positions(csr, layout.embedding)
    graph.data[graph.data < (graph.data.max() / float(n_epochs))] = 0.0
    graph.eliminate_zeros()
    epochs_per_sample = make_epochs_per_sample(graph.data, n_epochs)
    return optimize_layout_euclidean(
        embedding, layout.embedding.astype(np.float32, copy=True), graph.row, graph.col, n_epochs,
        graph.shape[1], epochs_per_sample, layout.a, layout.b, rng_state, layout.repulsion_strength,
        layout.initial_alpha / 4.0, layout.negative_sample_rate, False)


def init_positions(csr, embedding: np.ndarray) -> np.ndarray:
    """``umap.umap_.init_graph_transform`` without its Python loop over rows: each new point
    at the membership-weighted mean of its neighbours' positions (at a neighbour's position
    where its membership is 1; NaN without neighbours), summed in the same order."""
    n, d = csr.shape[0], embedding.shape[1]
    counts = np.diff(csr.indptr)
    width = int(counts.max()) if n else 0
    slot = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], counts)
    row = np.repeat(np.arange(n), counts)
    vals = np.zeros((n, width), np.float32)
    cols = np.zeros((n, width), np.int64)
    vals[row, slot], cols[row, slot] = csr.data, csr.indices
    total = np.add.reduce(vals, axis=1)
    result = np.zeros((n, d), np.float32)
    for j in range(width):
        share = (vals[:, j] / np.where(total > 0, total, 1)).astype(np.float32)
        result += share[:, None] * embedding[cols[:, j]]
    exact = vals == 1
    has_exact = exact.any(1)
    first = exact.argmax(1)
    result[has_exact] = embedding[cols[has_exact, first[has_exact]]]
    result[counts == 0] = np.nan
    return result


def _transform_job(indices, dists, layout, n_epochs, seed, start):
    return start, transform_chunk(indices, dists, layout, n_epochs, chunk_seed(seed, start))


def transform_all(neighbour_chunks, layout: Layout, n_new: int, seed: int, workers: int | None = None):
    """``(start, positions)`` for each ``(start, indices, dists)`` of ``neighbour_chunks``,
    in order; the chunks' SGD runs in ``workers`` processes (default: every CPU from
    ``PARALLEL_FROM`` new points on, here below; 1: here)."""
    n_epochs = transform_epochs(n_new, layout.fit_epochs)
    if workers is None:  # worker processes start in about 2 s (imports, numba's cache): worth it only for many
        workers = (os.cpu_count() or 1) if n_new >= PARALLEL_FROM else 1
    workers = max(1, workers)
    jobs = ((idx, d, layout, n_epochs, seed, start) for start, idx, d in neighbour_chunks)
    if workers == 1:
        for job in jobs:
            yield _transform_job(*job)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator", pre_dispatch="2*n_jobs")
    yield from parallel(delayed(_transform_job)(*job) for job in jobs)
