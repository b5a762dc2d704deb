"""Concepts by a sketched NMF: scikit-learn's own coordinate descent, run on a randomized
low-rank sketch of the activations (compressed NMF, Tepper & Sapiro, IEEE TSP 2016).

Why: every iteration of the plain NMF multiplies the whole positions × channels matrix X
by the factors, X·Hᵀ for the concept maps and Xᵀ·W for the concepts: 12-21 ms per
iteration at 11,000-16,000 positions × 1,280 channels on two cores, some 100-400
iterations, seconds in all, the largest fixed cost of an analysis. With Q (positions × r)
an orthonormal basis of X's range, found by scikit-learn's randomized range finder, X ≈ Q·B
with B = Qᵀ·X (r × channels), and the two products become Q·(B·Hᵀ) and Bᵀ·(Qᵀ·W):
(positions + channels)·r·K operations instead of positions·channels·K. Everything else
is scikit-learn's: the NNDSVDa start (here from the sketch's singular vectors), the
coordinate-descent step that keeps W and H non-negative in the full space, the stopping
rule. Only the data term is the sketch's, so when X has rank ≤ r the sketch is exact and the
fit is NMF's (tested). Once the sketched fit has converged, ``POLISH_ITERATIONS`` steps on X
itself take it to the plain NMF's fixed point nearby.

Measured (``benchmarks/bench_concepts_sketch.py``; EfficientNet-Lite0 activations of real
street photos, 1,280 channels, 12 concepts): see the README's concepts section.

The solver functions are private to scikit-learn (``sklearn.decomposition._nmf``); the
equality test against ``NMF`` is what guards an upgrade.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.explain.concepts.factorize import ConceptBasis, check_factorisable, fit_gathered

SKETCH_RANK = 64
"""Columns of the sketch: 64 (power iterations 4) matched the plain NMF's concepts at a worst
correlation of 0.993 on real activations; 32 at 0.95."""
POWER_ITERATIONS = 4
POLISH_ITERATIONS = 10
"""Iterations on X itself after the sketch's fit has converged: they move the fit to the plain
NMF's own fixed point nearby. On real activations 10 (0.15 s) took the worst matched
correlation with NMF's concepts from 0.993 to 1.000."""


class SketchedMatrix:
    """X ≈ Q·B as scikit-learn's coordinate descent uses X: ``X @ M``, ``X.T @ M``, ``X.shape``."""

    ndim = 2

    def __init__(self, Q: np.ndarray, B: np.ndarray, transposed: bool = False):
        self.Q, self.B, self.transposed = Q, B, transposed
        n, m = Q.shape[0], B.shape[1]
        self.shape = (m, n) if transposed else (n, m)

    @property
    def T(self) -> "SketchedMatrix":
        return SketchedMatrix(self.Q, self.B, not self.transposed)

    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        if self.transposed:  # Xᵀ·M ≈ Bᵀ·(Qᵀ·M)
            return self.B.T @ (self.Q.T @ other)
        return self.Q @ (self.B @ other)  # X·M ≈ Q·(B·M)


def sketch(X: np.ndarray, rank: int = SKETCH_RANK, power_iterations: int = POWER_ITERATIONS,
           seed: int = 0) -> SketchedMatrix:
    """Q·B ≈ X with Q orthonormal (rows × r), r = min(rank, X's smaller side), in X's dtype."""
    from sklearn.utils.extmath import randomized_range_finder

    r = max(1, min(rank, min(X.shape)))
    Q = randomized_range_finder(X, size=r, n_iter=power_iterations, random_state=seed)
    Q = np.ascontiguousarray(Q, dtype=X.dtype)
    return SketchedMatrix(Q, Q.T @ X)


def nndsvda(S: SketchedMatrix, n_components: int, mean: float, eps: float = 1e-6
            ) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's NNDSVDa start (Boutsidis & Gallopoulos 2008; zeros filled with X's mean),
    from the sketch's singular vectors: the SVD of the small B (r × C) instead of a randomized
    SVD of X, which would take another seven passes over it (0.5 s at 16,384 × 1,280). Same
    code as ``sklearn.decomposition._nmf._initialize_nmf``, which takes only X itself."""
    Ub, sv, V = np.linalg.svd(S.B, full_matrices=False)
    U = S.Q @ Ub[:, :n_components]
    sv, V = sv[:n_components], V[:n_components]
    W, H = np.zeros_like(U), np.zeros_like(V)
    W[:, 0] = np.sqrt(sv[0]) * np.abs(U[:, 0])
    H[0, :] = np.sqrt(sv[0]) * np.abs(V[0, :])
    for j in range(1, min(n_components, len(sv))):
        x, y = U[:, j], V[j, :]
        x_p, y_p = np.maximum(x, 0), np.maximum(y, 0)
        x_n, y_n = np.abs(np.minimum(x, 0)), np.abs(np.minimum(y, 0))
        x_p_nrm, y_p_nrm = np.linalg.norm(x_p), np.linalg.norm(y_p)
        x_n_nrm, y_n_nrm = np.linalg.norm(x_n), np.linalg.norm(y_n)
        m_p, m_n = x_p_nrm * y_p_nrm, x_n_nrm * y_n_nrm
        if m_p > m_n:
            u, v, sigma = x_p / x_p_nrm, y_p / y_p_nrm, m_p
        else:
            u, v, sigma = x_n / x_n_nrm, y_n / y_n_nrm, m_n
        lbd = np.sqrt(sv[j] * sigma)
        W[:, j], H[j, :] = lbd * u, lbd * v
    W[W < eps], H[H < eps] = 0, 0
    W[W == 0], H[H == 0] = mean, mean
    return W, H


def sketched_nmf(X: np.ndarray, n_components: int, seed: int = 0, rank: int = SKETCH_RANK,
                 power_iterations: int = POWER_ITERATIONS, max_iter: int = 400, tol: float = 1e-4,
                 polish: int = POLISH_ITERATIONS) -> tuple[np.ndarray, np.ndarray, int]:
    """``(W, H, iterations)`` with X ≈ W·H, both ≥ 0: ``NMF(init="nndsvda", solver="cd")``'s
    start and steps, the products with X taken from its sketch until they converge, then
    ``polish`` steps with X itself (``iterations`` counts the sketch's)."""
    from sklearn.decomposition._nmf import _fit_coordinate_descent

    check_factorisable(X, n_components)
    S = sketch(X, max(rank, n_components), power_iterations, seed)
    W, H = nndsvda(S, n_components, float(X.mean()))
    W, H, n_iter = _fit_coordinate_descent(S, W, H, tol=tol, max_iter=max_iter, random_state=seed)
    if polish > 0:
        W, H, _ = _fit_coordinate_descent(X, W, H, tol=0.0, max_iter=polish, random_state=seed)
    return W, H, int(n_iter)


def fit_concepts_sketched(activations, n_concepts: int = 12, seed: int = 0, max_rows: int = 100_000,
                          batch: int = 64, indices: Sequence[int] | None = None, max_iter: int = 400,
                          meta: dict | None = None, progress: bool = False, tol: float = 1e-4,
                          rank: int = SKETCH_RANK, power_iterations: int = POWER_ITERATIONS) -> ConceptBasis:
    """``fit_concepts`` (the same positions, start, steps and stopping rule) on a rank-``rank``
    sketch of the positions; ``meta`` records the sketch's rank and the iterations."""
    def solve(X):
        W, H, n_iter = sketched_nmf(X, n_concepts, seed, rank, power_iterations, max_iter, tol)
        return W, H, {"sketch_rank": int(min(max(rank, n_concepts), min(X.shape))),  # as sketch() caps it
                      "iterations": n_iter}

    return fit_gathered(activations, n_concepts, solve, seed=seed, max_rows=max_rows, batch=batch,
                        indices=indices, progress=progress, meta=meta)
