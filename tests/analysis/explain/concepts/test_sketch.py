"""The sketched NMF against scikit-learn's NMF: exact where the sketch loses nothing, close
where it does, and the same sample, determinism and errors as the plain fit."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import NMF
from sklearn.decomposition._nmf import _fit_coordinate_descent, _initialize_nmf

from analysis.explain.concepts.factorize import fit_concepts
from analysis.explain.concepts.sketch import (
    SketchedMatrix, fit_concepts_sketched, nndsvda, sketch, sketched_nmf,
)


def low_rank(rows=400, c=30, k=4, seed=0, noise=0.0):
    """X = U·W ≥ 0 of rank k (plus non-negative noise of full rank when ``noise`` > 0)."""
    rng = np.random.default_rng(seed)
    X = (rng.random((rows, k)) ** 2) @ (rng.random((k, c)) ** 3)
    if noise:
        X = X + noise * rng.random((rows, c))
    return X.astype(np.float32)


def as_activations(X, h=4, w=5):
    """(rows, C) → (n, C, h, w), positions in (image, y, x) order as the fits read them."""
    n = len(X) // (h * w)
    return np.ascontiguousarray(X[:n * h * w].reshape(n, h, w, -1).transpose(0, 3, 1, 2))


def matched(A, B):
    """Hungarian-matched Pearson correlations of two sets of concept rows."""
    a = A - A.mean(1, keepdims=True)
    b = B - B.mean(1, keepdims=True)
    C = (a @ b.T) / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    r, c = linear_sum_assignment(-C)
    return C[r, c]


def test_sketched_matrix_products_are_x_products_when_the_rank_fits():
    X = low_rank(300, 25, k=5)
    S = sketch(X, rank=8, seed=0)
    assert S.Q.shape == (300, 8) and S.B.shape == (8, 25) and S.shape == (300, 25)
    np.testing.assert_allclose(S.Q.T @ S.Q, np.eye(8), atol=1e-5)
    M = np.random.default_rng(1).random((25, 3)).astype(np.float32)
    N = np.random.default_rng(2).random((300, 3)).astype(np.float32)
    np.testing.assert_allclose(S @ M, X @ M, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(S.T @ N, X.T @ N, rtol=1e-4, atol=1e-3)
    assert S.T.shape == (25, 300) and S.T.T.shape == (300, 25)


def test_nndsvda_from_the_sketch_is_scikit_learns_start():
    X = low_rank(k=4)
    W, H = nndsvda(sketch(X, rank=16, seed=0), 4, float(X.mean()))
    W_ref, H_ref = _initialize_nmf(X, 4, init="nndsvda", random_state=0)
    np.testing.assert_allclose(W, W_ref, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(H, H_ref, rtol=1e-3, atol=1e-4)


def test_the_solver_on_a_lossless_sketch_takes_nmfs_steps():
    X = low_rank(k=4, noise=0.0)
    W0, H0 = _initialize_nmf(X, 4, init="nndsvda", random_state=0)
    W_ref, H_ref, n_ref = _fit_coordinate_descent(X, W0.copy(), H0.copy(), max_iter=50, tol=0)
    W, H, n = _fit_coordinate_descent(sketch(X, rank=16, seed=0), W0.copy(), H0.copy(), max_iter=50, tol=0)
    assert n == n_ref == 50
    np.testing.assert_allclose(H, H_ref, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(W, W_ref, rtol=1e-3, atol=1e-4)


def test_exact_where_the_sketch_loses_nothing_and_close_where_it_does():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # rank 4 ≤ sketch rank: the fit is NMF's
        X = low_rank(k=4)
        ref = NMF(4, init="nndsvda", solver="cd", random_state=0, max_iter=400, tol=1e-4)
        U = ref.fit_transform(X)
        W, H, _ = sketched_nmf(X, 4, seed=0, rank=16)
        assert matched(H, ref.components_).min() > 0.999
        rel, rel_ref = (np.linalg.norm(X - a @ b) / np.linalg.norm(X) for a, b in ((W, H), (U, ref.components_)))
        assert rel < 1e-2 and rel_ref < 1e-2
        # full-rank noise on top (60 channels, a rank-12 sketch): the concepts and the error stay NMF's
        X = low_rank(rows=2000, c=60, k=4, seed=3, noise=0.05)
        U = ref.fit_transform(X)
        W, H, _ = sketched_nmf(X, 4, seed=0, rank=12)
        assert matched(H, ref.components_).min() > 0.99
        rel, rel_ref = (np.linalg.norm(X - a @ b) / np.linalg.norm(X) for a, b in ((W, H), (U, ref.components_)))
        assert abs(rel - rel_ref) < 0.01 * rel_ref
    assert (W >= 0).all() and (H >= 0).all()


def test_fit_concepts_sketched_reads_the_sample_fit_concepts_reads():
    A = as_activations(low_rank(rows=2000, c=30, k=4, seed=5, noise=0.02))
    a = fit_concepts_sketched(A, 4, seed=2, max_rows=800, batch=7, rank=10, meta={"run": "r"})
    b = fit_concepts_sketched(A, 4, seed=2, max_rows=800, batch=13, rank=10)
    np.testing.assert_array_equal(a.components, b.components)  # the sample and the fit do not depend on chunking
    assert a.n_rows == 800 and a.n_images == 100
    assert a.meta == {"run": "r", "sketch_rank": 10, "iterations": a.meta["iterations"]} and a.meta["iterations"] > 1
    np.testing.assert_allclose(np.linalg.norm(a.components, axis=1), 1.0, rtol=1e-5)
    plain = fit_concepts(A, 4, seed=2, max_rows=800)
    assert matched(a.components, plain.components).min() > 0.99
    assert abs(a.relative_error - plain.relative_error) < 0.01 * plain.relative_error
    c = fit_concepts_sketched(A, 4, seed=3, max_rows=800, rank=10)
    assert not np.array_equal(a.components, c.components)
    only = fit_concepts_sketched(A, 4, seed=2, indices=[0, 2, 4, 6, 8, 10], rank=10)
    assert only.n_images == 6 and only.n_rows == 6 * 20


def test_bad_input_is_one_clear_error():
    A = as_activations(low_rank(rows=200, c=6, k=2))
    with pytest.raises(ValueError, match="n_concepts=8 exceeds min"):
        fit_concepts_sketched(A, 8)
    with pytest.raises(ValueError, match="all zero"):
        fit_concepts_sketched(np.zeros((3, 4, 3, 3), np.float32), 2)
    with pytest.raises(ValueError, match="no images"):
        fit_concepts_sketched(A, 2, indices=[])
    with pytest.raises(ValueError, match="must be \\(N, C, h, w\\)"):
        fit_concepts_sketched(A[0], 2)
    with pytest.raises(ValueError, match="n_concepts must be >= 1"):
        fit_concepts_sketched(A, 0)
    assert isinstance(sketch(low_rank(rows=50, c=6), rank=64), SketchedMatrix)  # the rank is capped at the smaller side
    assert sketch(low_rank(rows=50, c=6), rank=64).Q.shape == (50, 6)


def test_polishing_on_the_data_moves_the_fit_to_nmfs_fixed_point():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = low_rank(rows=2000, c=60, k=10, seed=1, noise=0.05)  # rank 10 and noise: a rank-6 sketch misses much
        ref = NMF(4, init="nndsvda", solver="cd", random_state=0, max_iter=400, tol=1e-4)
        U = ref.fit_transform(X)
        rough_W, rough_H, n = sketched_nmf(X, 4, seed=0, rank=6, polish=0)
        W, H, n_polished = sketched_nmf(X, 4, seed=0, rank=6)
    assert n == n_polished  # the count is the sketch's iterations
    err = {name: np.linalg.norm(X - a @ b) for name, (a, b) in
           {"rough": (rough_W, rough_H), "polished": (W, H), "nmf": (U, ref.components_)}.items()}
    assert err["polished"] < err["rough"]
    assert abs(err["polished"] - err["nmf"]) < abs(err["rough"] - err["nmf"])
    assert matched(rough_H, ref.components_).min() < 0.95 < 0.99 < matched(H, ref.components_).min()
