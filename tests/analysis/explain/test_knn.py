"""The exact cosine index: the same answers as comparing all pairs, in any chunks, reading
its arrays a chunk at a time."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.explain.embedding import TrainingIndex, nearest_training_images
from analysis.explain.knn import CosineIndex


class ChunkReader:
    """Answers slices and integer arrays of at most ``limit`` rows; never read whole."""

    def __init__(self, values: np.ndarray, limit: int):
        self.values, self.limit = values, limit
        self.shape, self.ndim = values.shape, values.ndim

    def __len__(self):
        return len(self.values)

    def __getitem__(self, key):
        assert isinstance(key, (slice, np.ndarray)), f"read with {type(key)}"
        out = self.values[key]
        assert len(out) <= self.limit, f"read {len(out)} rows at once"
        return out

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole array was read")


def all_pairs(queries: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The oracle: cosine similarity of every query with every base row."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    return q.astype(np.float64) @ b.T.astype(np.float64)


def test_by_hand_on_the_unit_circle():
    angles = np.deg2rad([0, 10, 90, 180])
    base = np.stack([np.cos(angles), np.sin(angles)], 1) * [[1], [3], [2], [5]]  # lengths do not matter
    index = CosineIndex.from_rows(base, chunk=3)
    theta = np.arctan(0.2)  # the query at about 11.3°: nearest 10°, then 0°, then 90°
    ids, sims = index.search(np.array([[1.0, 0.2]]), 3)
    assert ids.tolist() == [[1, 0, 2]]
    np.testing.assert_allclose(sims[0], np.cos(theta - angles[[1, 0, 2]]), atol=1e-6)
    assert len(index) == 4 and index.dim == 2


def test_the_same_neighbours_as_all_pairs():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(300, 16)).astype(np.float32)
    queries = rng.normal(size=(50, 16)).astype(np.float32)
    rows = np.sort(rng.choice(300, 120, replace=False))  # index a subset; ids are their rows
    index = CosineIndex.from_rows(ChunkReader(base, 32), rows, chunk=32)
    ids, sims = index.search(queries, 5)
    sim = all_pairs(queries, base[rows])
    expected = rows[np.argsort(-sim, axis=1, kind="stable")[:, :5]]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(sims, np.take_along_axis(sim, np.argsort(-sim, 1)[:, :5], 1), atol=1e-5)
    assert index.search(queries[:1], 10_000)[0].shape == (1, 120)  # k at most the index size


def test_chunked_queries_without_the_row_itself_equal_all_pairs():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(90, 8)).astype(np.float32)
    index = CosineIndex.from_rows(feats, chunk=11)
    sim = all_pairs(feats, feats)
    np.fill_diagonal(sim, -np.inf)
    expected = np.argsort(-sim, axis=1, kind="stable")[:, :4]
    for chunk in (1, 7, 90, 1000):
        parts = list(index.search_rows(ChunkReader(feats, chunk), 4, chunk=chunk, exclude_self=True))
        ids = np.concatenate([p[1] for p in parts])
        sims = np.concatenate([p[2] for p in parts])
        np.testing.assert_array_equal(ids, expected)
        np.testing.assert_allclose(sims, np.take_along_axis(sim, expected, 1), atol=1e-5)
        assert [p[0] for p in parts] == list(range(0, 90, chunk))


def test_nearest_training_images_and_the_training_index_read_chunks_only():
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(70, 12)).astype(np.float32)
    is_train = np.arange(70) % 3 != 0
    rows, dist = nearest_training_images(ChunkReader(feats, 16), is_train, k=3, chunk=16)
    train = np.flatnonzero(is_train)
    sim = all_pairs(feats, feats[train])
    sim[train, np.arange(len(train))] = -np.inf  # a training image is not its own neighbour
    expected = train[np.argsort(-sim, axis=1, kind="stable")[:, :3]]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(dist, 1 - np.sort(sim, 1)[:, ::-1][:, :3], atol=1e-5)
    samples = pd.DataFrame({"row": np.arange(70), "split": np.where(is_train, "train", "test")})
    index = TrainingIndex.from_samples(samples, ChunkReader(feats, 4096))
    got, sims = index.nearest(feats[0] * 3, 2)
    np.testing.assert_array_equal(got, expected[0, :2])


def test_a_wrong_dimension_is_one_clear_error():
    index = CosineIndex.from_rows(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="queries have 4 features, the index 3"):
        index.search(np.ones((1, 4)), 1)
    with pytest.raises(ValueError, match="dimension 3"):
        index.add(np.ones((2, 5)), [7, 8])


def clustered(n, seed, dim=32, centres=20):
    rng = np.random.default_rng(seed)
    c = np.random.default_rng(99).normal(size=(centres, dim)) * 2
    return (c[rng.integers(0, centres, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def test_beyond_exact_max_an_inverted_file_finds_most_true_neighbours():
    """Oracle: all pairs. The inverted file (√n lists, 16 probed) is approximate: it must
    find nearly every true neighbour, return only real rows, and read in chunks."""
    base, queries = clustered(4000, 0), clustered(200, 1)
    rows = np.arange(0, 4000, 2)
    ivf = CosineIndex.from_rows(ChunkReader(base, 256), rows, chunk=256, exact_max=1000)
    assert not ivf.exact and ivf.index.nlist == 45 and ivf.index.nprobe == 16
    assert CosineIndex.from_rows(base, rows, exact_max=2000).exact  # at the limit: exact
    ids, sims = ivf.search(queries, 10)
    sim = all_pairs(queries, base[rows])
    truth = rows[np.argsort(-sim, axis=1)[:, :10]]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)])
    assert recall > 0.9
    assert np.isin(ids, rows).all()
    # the similarities it reports are the true ones of the rows it returns
    np.testing.assert_allclose(sims, np.take_along_axis(sim, np.searchsorted(rows, ids), 1), atol=1e-5)
    again = CosineIndex.from_rows(base, rows, exact_max=1000)
    np.testing.assert_array_equal(again.search(queries, 10)[0], ids)  # seeded: the same index


def test_an_inverted_file_probes_wider_until_it_has_k_answers():
    """One probed list of a few rows cannot hold k = 300 answers: the query probes more lists,
    up to all of them, where the answer is the exact one."""
    base, queries = clustered(2000, 2), clustered(5, 3)
    index = CosineIndex(32, lists=40, probe=1)
    index.train(base)
    index.add(base, np.arange(2000))
    ids, sims = index.search(queries, 300)
    assert (ids >= 0).all() and index.index.nprobe == 1  # put back afterwards
    wide = CosineIndex(32, lists=40, probe=40)
    wide.train(base)
    wide.add(base, np.arange(2000))
    exact = np.argsort(-all_pairs(queries, base), axis=1)[:, :300]
    assert np.mean([len(set(a) & set(b)) / 300 for a, b in zip(wide.search(queries, 300)[0], exact)]) > 0.999


def test_an_inverted_file_never_gives_a_row_as_its_own_neighbour():
    base = clustered(3000, 4)
    index = CosineIndex.from_rows(base, exact_max=500)
    for a, ids, _ in index.search_rows(base, 5, chunk=700, exclude_self=True):
        assert not (ids == np.arange(a, a + len(ids))[:, None]).any()
        assert ids.shape[1] == 5 and (ids >= 0).all()
