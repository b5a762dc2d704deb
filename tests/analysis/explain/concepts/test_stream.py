"""Streaming concepts (MiniBatchNMF.partial_fit over row chunks): planted factors
recovered, the same whatever the chunk size, deterministic, reads only chunks, and the
switch between the plain and the streaming fit."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from analysis.explain.concepts.factorize import fit_concepts
from analysis.explain.concepts.sketch import fit_concepts_sketched
from analysis.explain.concepts.stability import concept_stability
from analysis.explain.concepts.stream import (
    MINIBATCH_FROM_ROWS,
    _minibatches,
    fit_basis,
    fit_concepts_minibatch,
    resolve_fit,
)


def planted(n=80, c=24, h=5, w=6, k=4, seed=0, noise=0.0):
    """A = U·W (+ non-negative noise) with known sparse non-negative U and W, (n, C, h, w)."""
    rng = np.random.default_rng(seed)
    W = rng.random((k, c)) ** 3 * (rng.random((k, c)) < 0.6)
    U = rng.exponential(1.0, (n * h * w, k)) * (rng.random((n * h * w, k)) < 0.4)
    X = U @ W + noise * rng.random((n * h * w, c))
    return X.reshape(n, h, w, c).transpose(0, 3, 1, 2).astype(np.float32), W


def matched_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with its Hungarian match among ``b``'s rows."""
    za = (a - a.mean(1, keepdims=True)) / a.std(1, keepdims=True)
    zb = (b - b.mean(1, keepdims=True)) / b.std(1, keepdims=True)
    corr = za @ zb.T / a.shape[1]
    rows, cols = linear_sum_assignment(-corr)
    return corr[rows, cols]


class ChunkReader:
    """An array that only answers slices and integer arrays of at most ``limit`` images,
    and refuses to be read whole (what ``RunCache.array`` promises, whatever its storage)."""

    def __init__(self, values: np.ndarray, limit: int):
        self.values, self.limit, self.reads = values, limit, []
        self.shape, self.ndim, self.dtype = values.shape, values.ndim, values.dtype

    def __len__(self):
        return len(self.values)

    def __getitem__(self, key):
        assert isinstance(key, (slice, np.ndarray)), f"read with {type(key)}"
        out = self.values[key]
        assert len(out) <= self.limit, f"read {len(out)} images at once"
        self.reads.append(len(out))
        return out

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole array was read")


def test_recovers_planted_factors_in_a_stream():
    A, W = planted(noise=0.01)
    # a warm start of 2 images (60 rows): the stream, not the start, does the work
    basis = fit_concepts_minibatch(A, 4, seed=0, warm_rows=60, batch_rows=128, epochs=3)
    assert basis.components.shape == (4, 24) and (basis.components >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(basis.components, axis=1), 1.0, rtol=1e-5)
    assert matched_correlation(basis.components, W).min() > 0.97
    assert basis.relative_error < 0.05
    assert basis.meta["fit"] == "minibatch" and basis.meta["rows_fed"] == 3 * 80 * 30
    full = fit_concepts(A, 4, seed=0)
    assert matched_correlation(basis.components, full.components).min() > 0.97
    assert basis.relative_error < full.relative_error + 0.01


def test_the_same_whatever_the_chunk_size_and_deterministic():
    A, _ = planted(n=40, seed=1)
    a = fit_concepts_minibatch(A, 4, seed=3, chunk=3, batch_rows=100, warm_rows=200)
    b = fit_concepts_minibatch(A, 4, seed=3, chunk=40, batch_rows=100, warm_rows=200)
    np.testing.assert_array_equal(a.components, b.components)
    assert a.relative_error == pytest.approx(b.relative_error, rel=1e-9)
    again = fit_concepts_minibatch(A, 4, seed=3, chunk=3, batch_rows=100, warm_rows=200)
    np.testing.assert_array_equal(a.components, again.components)
    other = fit_concepts_minibatch(A, 4, seed=4, chunk=3, batch_rows=100, warm_rows=200)
    assert not np.array_equal(a.components, other.components)


def test_relative_error_is_the_residual_of_the_concept_maps():
    """The stream's error comes from (rows × K) sums, never a residual matrix; oracle: the
    residual of ``concept_maps`` over the pass (here every image, one pass)."""
    from analysis.explain.concepts.factorize import concept_maps, residual_norm

    A, _ = planted(n=40, seed=6, noise=0.3)
    basis = fit_concepts_minibatch(A, 4, seed=0, batch_rows=100, warm_rows=200)
    direct = np.linalg.norm(residual_norm(basis, A, concept_maps(basis, A))) / np.linalg.norm(np.maximum(A, 0))
    assert basis.relative_error > 0.05  # the noise leaves a residual worth measuring
    assert basis.relative_error == pytest.approx(direct, rel=1e-5)


def test_minibatches_cut_across_chunks():
    rows = np.arange(23, dtype=np.float32)[:, None]
    for sizes in ([23], [5, 5, 5, 8], [1] * 23, [10, 13]):
        parts = np.split(rows, np.cumsum(sizes)[:-1])
        got = list(_minibatches(iter(parts), 7))
        assert [len(g) for g in got] == [7, 7, 7, 2]
        np.testing.assert_array_equal(np.concatenate(got), rows)


def test_reads_chunks_only_and_bounds_the_rows_per_pass():
    A, _ = planted(n=60, seed=2)
    reader = ChunkReader(A, limit=8)
    basis = fit_concepts_minibatch(reader, 4, seed=0, chunk=8, max_rows=20 * 30, warm_rows=90,
                                   indices=np.arange(0, 60, 2))
    assert max(reader.reads) <= 8
    assert basis.n_rows == 20 * 30 and basis.n_images == 30  # 20 of the 30 images per pass
    assert basis.relative_error < 0.05


def test_bootstrap_indices_with_repeats_and_negatives():
    A, _ = planted(n=30, seed=5)
    A[:, 0] -= 0.5  # some negatives in channel 0
    sample = np.sort(np.random.default_rng(0).choice(30, 30, replace=True))
    basis = fit_concepts_minibatch(ChunkReader(A, 64), 4, seed=0, indices=sample, warm_rows=120)
    assert 0 < basis.negative_fraction < 1 / 24 + 1e-9
    assert basis.n_images == 30


def test_resolve_fit_and_fit_basis_switch():
    assert resolve_fit("auto", MINIBATCH_FROM_ROWS) == "sketch"
    assert resolve_fit("auto", MINIBATCH_FROM_ROWS + 1) == "minibatch"
    assert resolve_fit("full", 10 ** 9) == "full" and resolve_fit("minibatch", 10) == "minibatch"
    assert resolve_fit("sketch", 10 ** 9) == "sketch"
    with pytest.raises(ValueError, match="one of auto, sketch, full, minibatch"):
        resolve_fit("sgd", 10)
    A, _ = planted(n=20, seed=3)
    auto = fit_basis(A, 4, fit="auto", seed=0, meta={"run": "r"})
    assert auto.meta == {"run": "r", "fit": "sketch", "sketch_rank": 24, "iterations": auto.meta["iterations"]}
    np.testing.assert_array_equal(auto.components, fit_concepts_sketched(A, 4, seed=0).components)
    full = fit_basis(A, 4, fit="full", seed=0, meta={"run": "r"})
    assert full.meta == {"run": "r", "fit": "full"}
    np.testing.assert_array_equal(full.components, fit_concepts(A, 4, seed=0).components)
    mb = fit_basis(A, 4, fit="minibatch", seed=0, warm_rows=60)
    assert mb.meta["fit"] == "minibatch"


def test_bad_input_is_one_clear_error():
    A, _ = planted(n=10)
    with pytest.raises(ValueError, match="n_concepts=30 exceeds the 24 channels"):
        fit_concepts_minibatch(A, 30)
    with pytest.raises(ValueError, match="all zero"):
        fit_concepts_minibatch(np.zeros((3, 4, 3, 3), np.float32), 2)
    with pytest.raises(ValueError, match="no images"):
        fit_concepts_minibatch(A, 2, indices=[])


def test_stability_refits_in_a_stream_find_the_planted_concepts_again():
    A, W = planted(n=60, seed=6, noise=0.01)
    ref = fit_concepts_minibatch(A, 4, seed=0, warm_rows=300)
    result = concept_stability(A, ref.components, refits=2, max_rows=1200, seed=0, fit="minibatch")
    assert result.similarity.shape == (2, 4) and result.stable.all()
