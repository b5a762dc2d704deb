"""UMAP's transform for the images a fit did not see: umap-learn's own ``UMAP.transform``
is the oracle (bit for bit, given the same neighbours), and the parallel run equals the
serial one."""

import numpy as np
import pytest
import scipy.sparse
import umap
import umap.distances
from sklearn.utils import check_random_state
from umap.umap_ import init_graph_transform, submatrix

from analysis.explain.umap_transform import (
    INT32_MAX,
    INT32_MIN,
    Layout,
    init_positions,
    numba_cached,
    transform_all,
    transform_chunk,
    transform_epochs,
)


def blobs(n, seed, dim=16):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(3, dim)) * 3
    return (centres[rng.integers(0, 3, n)] + rng.normal(size=(n, dim))).astype(np.float32)


@pytest.mark.parametrize("n_epochs", [None, 60])
def test_transform_chunk_equals_umaps_own_transform(n_epochs):
    """Also with the fit's epochs set (streetlens sets 200): the transform then runs a third."""
    fitted, new = blobs(300, 0), blobs(40, 1)
    reducer = umap.UMAP(n_neighbors=10, metric="cosine", random_state=0, n_jobs=1, n_epochs=n_epochs).fit(fitted)
    expected = reducer.transform(new)  # small data: exact neighbours by umap's cosine
    # the same neighbours umap found, the same seed (its transform_seed, 42)
    d = umap.distances.pairwise_special_metric(new, reducer._raw_data, metric=reducer._input_distance_func)
    idx = np.argpartition(d, 10)[:, :10]
    dist = submatrix(d, idx, 10)
    order = np.argsort(dist)
    idx, dist = submatrix(idx, order, 10), submatrix(dist, order, 10)
    state = check_random_state(42).randint(INT32_MIN, INT32_MAX, 3).astype(np.int64)
    layout = Layout.of(reducer)
    assert layout.fit_epochs == n_epochs
    got = transform_chunk(idx, dist, layout, transform_epochs(len(new), layout.fit_epochs), state)
    np.testing.assert_array_equal(got, expected)


def test_init_positions_equal_umaps_loop_with_exact_and_missing_neighbours():
    embedding = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    rows = [0, 0, 0, 1, 1, 2, 2, 2]  # row 3 has no neighbour at all
    cols = [1, 4, 5, 0, 2, 3, 5, 1]
    vals = np.array([0.3, 0.9, 0.05, 0.5, 1.0, 0.2, 0.7, 0.61], np.float32)  # row 1 holds an exact match
    graph = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(4, 6)).tocsr()
    got, expected = init_positions(graph, embedding), init_graph_transform(graph, embedding)
    np.testing.assert_array_equal(got[:3], expected[:3])
    np.testing.assert_array_equal(got[1], embedding[2])
    assert np.isnan(got[3]).all() and np.isnan(expected[3]).all()


def test_parallel_workers_give_the_serial_layout_and_chunks_keep_their_own_seed():
    fitted = blobs(200, 2)
    reducer = umap.UMAP(n_neighbors=8, metric="cosine", random_state=0, n_jobs=1).fit(fitted)
    layout = Layout.of(reducer)
    new = blobs(90, 3)
    d = umap.distances.pairwise_special_metric(new, reducer._raw_data, metric=reducer._input_distance_func)
    idx = np.argsort(d, 1)[:, :8]
    dist = np.take_along_axis(d, idx, 1).astype(np.float32)
    chunks = [(a, idx[a:a + 30], dist[a:a + 30]) for a in range(0, 90, 30)]
    serial = list(transform_all(iter(chunks), layout, 90, seed=5, workers=1))
    parallel = list(transform_all(iter(chunks), layout, 90, seed=5, workers=2))
    assert [a for a, _ in serial] == [a for a, _ in parallel] == [0, 30, 60]
    for (_, s), (_, p) in zip(serial, parallel):
        np.testing.assert_array_equal(s, p)
    # identical neighbours in two chunks are placed with different random streams
    twin = [(0, idx[:30], dist[:30]), (30, idx[:30], dist[:30])]
    first, second = (p for _, p in transform_all(iter(twin), layout, 60, seed=5, workers=1))
    assert not np.array_equal(first, second)
    # placed near their neighbours: within the fitted layout's spread
    spread = np.ptp(layout.embedding, 0)
    near = layout.embedding[idx[:30]].mean(1)
    assert np.all(np.abs(first - near) < spread / 2)


def test_epochs_follow_umaps_rule_and_numba_code_is_cached_on_disk():
    assert transform_epochs(10_000) == 100 and transform_epochs(10_001) == 30
    assert transform_epochs(10, fit_epochs=200) == transform_epochs(10**6, fit_epochs=200) == 66
    numba_cached()
    from umap.layouts import _nb_optimize_layout_euclidean_single_epoch
    from umap.umap_ import smooth_knn_dist

    for fn in (smooth_knn_dist, _nb_optimize_layout_euclidean_single_epoch):
        assert type(fn._cache).__name__ == "FunctionCache"
