"""Concepts: non-negative matrix factorisation of target-layer activations (CRAFT, Building
Blocks).

Why NMF: after a ReLU the feature map A (one row per spatial position, one column per
channel) is non-negative, and a non-negative factorisation A ≈ U·W gives *parts*: each
concept k is a direction W_k in channel space (``components``) that positions activate
with strength U_k ≥ 0 (its ``concept map``). Unlike single channels, concepts are found
over the whole dataset and are few (≈ 12), so they can be shown as patches of real photos
and ranked by how much they drive each city's logit.

Steps, each streaming over an (N, C, h, w) array or float16 memmap in chunks:

* ``fit_concepts``      – scikit-learn NMF on (a reproducible subsample of) all positions;
  ``sketch.py`` runs the same solver on a low-rank sketch of them, ``stream.py`` streams.
* ``concept_maps``      – U for new activations with W fixed (non-negative least squares,
  solved row by row, so chunking never changes a result).
* ``concept_importance`` / ``concept_class_importance`` – gradient × concept activation:
  importance_k = Σ_positions U_k · (∂logit/∂A · W_kᵀ), averaged over the class's images.
* top patches (``analysis.explain.patches``) – the photos' regions that activate a concept
  most (at most one per image, so one photo cannot fill a concept's gallery).
* ``neuron_groups`` – Building Blocks' per-image NMF (k groups of channels, one image).

Negative activations (a target layer without a final ReLU) are clipped at 0 before the
factorisation, and ``ConceptBasis.negative_fraction`` records how much was clipped. Of the
registered backbones none needs it: EfficientNet-Lite0's ``bn2`` is timm's BatchNormAct2d,
i.e. BN + ReLU6, so it is already non-negative.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis.progress import bar


# --------------------------------------------------------------------------- the basis
@dataclass
class ConceptBasis:
    """K concept directions in channel space, from ``fit_concepts``.

    ``components`` rows have unit L2 norm (the scale lives in the maps), so a concept
    map reads as "activation along this direction" and is comparable across concepts.
    Concepts are ordered by their share of the fitted activation mass, largest first.
    """

    components: np.ndarray
    """(K, C) float32, non-negative, unit-norm rows."""
    relative_error: float
    """‖A − U·W‖_F / ‖A‖_F on the rows the fit used."""
    explained: float
    """1 − relative_error²: fraction of the activations' energy the K concepts reproduce."""
    n_rows: int = 0
    n_images: int = 0
    seed: int = 0
    negative_fraction: float = 0.0
    """Fraction of activation entries that were < 0 and clipped (0 after a ReLU)."""
    meta: dict = field(default_factory=dict)
    """Free-form provenance the caller wants kept (run, layer, split …); JSON-able."""

    @property
    def n_concepts(self) -> int:
        return int(self.components.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.components.shape[1])

    def record(self) -> tuple[np.ndarray, dict]:
        """``(components, info)``: what a store keeps of the basis (no pickle)."""
        info = {
            "n_concepts": self.n_concepts, "n_channels": self.n_channels,
            "relative_error": float(self.relative_error), "explained": float(self.explained),
            "n_rows": int(self.n_rows), "n_images": int(self.n_images), "seed": int(self.seed),
            "negative_fraction": float(self.negative_fraction), "meta": self.meta,
        }
        return np.ascontiguousarray(self.components, dtype=np.float32), info

    @classmethod
    def from_record(cls, components: np.ndarray, info: dict) -> "ConceptBasis":
        """The basis :meth:`record` described; a mismatch of the two is one clear error."""
        if components.shape != (info["n_concepts"], info["n_channels"]):
            raise ValueError(f"concept components have shape {components.shape}, their description "
                             f"says ({info['n_concepts']}, {info['n_channels']}); recompute the concepts")
        return cls(components=components.astype(np.float32),
                   relative_error=info["relative_error"], explained=info["explained"],
                   n_rows=info["n_rows"], n_images=info["n_images"], seed=info["seed"],
                   negative_fraction=info["negative_fraction"], meta=info.get("meta", {}))


# --------------------------------------------------------------------------- helpers
def check_4d(activations, what: str = "activations") -> tuple[int, int, int, int]:
    if getattr(activations, "ndim", None) != 4:
        raise ValueError(f"{what} must be (N, C, h, w), got shape {getattr(activations, 'shape', None)}")
    return tuple(int(s) for s in activations.shape)


def _unit_rows(W: np.ndarray, U: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Scale W's rows to unit norm and U's columns inversely (U·W unchanged)."""
    norms = np.linalg.norm(W, axis=1)
    norms[norms == 0] = 1.0
    W = W / norms[:, None]
    if U is not None:
        U = U * norms[None, :]
    return W, U


def _progress(iterable, total: int, desc: str, show: bool):
    return bar(iterable, total=total, desc=desc, disable=not show)


# --------------------------------------------------------------------------- fitting
def gather_rows(activations, seed: int = 0, max_rows: int = 100_000, batch: int = 64,
                indices: Sequence[int] | None = None, progress: bool = False
                ) -> tuple[np.ndarray, int, float]:
    """The positions a fit sees: ``(X, images, negative_fraction)``, X (rows, C) float32 ≥ 0.

    Rows are all spatial positions of the images (``indices`` restricts to some images,
    e.g. the training split); when there are more than ``max_rows`` a uniform random
    subset is drawn with ``seed`` (so the fit is reproducible and memory stays at
    ``max_rows × C`` floats, whatever the dataset size). The memmap is read ``batch``
    images at a time, never whole. Negatives are clipped at 0 and counted.
    """
    n_all, c, h, w = check_4d(activations)
    images = np.arange(n_all) if indices is None else np.asarray(indices, dtype=np.int64)
    if images.size == 0:
        raise ValueError("no images to fit concepts on")
    hw = h * w
    total = images.size * hw
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(total, size=max_rows, replace=False)) if total > max_rows else None

    parts, negatives, seen = [], 0, 0
    starts = range(0, images.size, batch)
    for s in _progress(starts, len(starts), "concept rows", progress):
        idx = images[s:s + batch]
        chunk = np.asarray(activations[idx] if indices is not None else activations[s:s + batch],
                           dtype=np.float32)
        x = chunk.transpose(0, 2, 3, 1).reshape(-1, c)
        if chosen is not None:
            lo, hi = np.searchsorted(chosen, [s * hw, (s + idx.size) * hw])
            x = x[chosen[lo:hi] - s * hw]
        negatives += int((x < 0).sum())
        seen += x.size
        parts.append(np.maximum(x, 0))
    return np.concatenate(parts), int(images.size), negatives / max(seen, 1)


def check_factorisable(X: np.ndarray, n_concepts: int) -> None:
    """One clear line for what no NMF can factorise."""
    if n_concepts < 1:
        raise ValueError(f"n_concepts must be >= 1, got {n_concepts}")
    if n_concepts > min(X.shape):
        raise ValueError(f"n_concepts={n_concepts} exceeds min(rows, channels)={min(X.shape)}")
    if not np.any(X):
        raise ValueError("activations are all zero (after clipping negatives); nothing to factorise")


def relative_error(X: np.ndarray, U: np.ndarray, W: np.ndarray, rows: int = 2048) -> float:
    """‖X − U·W‖_F / ‖X‖_F, ``rows`` rows at a time: a whole-matrix residual (84 MB at
    16,384 × 1,280) cost 0.2-1 s here in page faults alone, the product itself 10 ms."""
    err = total = 0.0
    for a in range(0, len(X), rows):
        x = X[a:a + rows]
        r = x - U[a:a + rows] @ W
        err += float(np.einsum("ij,ij->", r, r, dtype=np.float64))
        total += float(np.einsum("ij,ij->", x, x, dtype=np.float64))
    return float(np.sqrt(err / total)) if total > 0 else 0.0


def basis_from_factors(X: np.ndarray, U: np.ndarray, components: np.ndarray, *, n_images: int, seed: int,
                       negative_fraction: float, meta: dict | None) -> ConceptBasis:
    """The basis of a fit ``X ≈ U·components``: unit-norm rows, ordered by activation mass
    (largest first), with the relative error measured on X itself."""
    W, U = _unit_rows(components, U)
    order = np.argsort(-U.sum(0), kind="stable")  # largest share of activation mass first
    W, U = W[order], U[:, order]
    rel = relative_error(X, U, W)
    return ConceptBasis(components=W.astype(np.float32), relative_error=rel, explained=1.0 - rel ** 2,
                        n_rows=int(X.shape[0]), n_images=n_images, seed=seed,
                        negative_fraction=negative_fraction, meta=dict(meta or {}))


def fit_gathered(activations, n_concepts: int, solve, *, seed: int, max_rows: int, batch: int,
                 indices: Sequence[int] | None, progress: bool, meta: dict | None) -> ConceptBasis:
    """The steps every in-memory fit shares: the positions ``gather_rows`` picks, the checks,
    ``solve(X) -> (U, components, extra meta)``, the basis."""
    check_4d(activations)
    if n_concepts < 1:
        raise ValueError(f"n_concepts must be >= 1, got {n_concepts}")
    X, n_images, negative_fraction = gather_rows(activations, seed, max_rows, batch, indices, progress)
    check_factorisable(X, n_concepts)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Maximum number of iterations")
        U, components, extra = solve(X)
    return basis_from_factors(X, U, components, n_images=n_images, seed=seed,
                              negative_fraction=negative_fraction, meta={**(meta or {}), **extra})


def fit_concepts(activations, n_concepts: int = 12, seed: int = 0, max_rows: int = 100_000,
                 batch: int = 64, indices: Sequence[int] | None = None, max_iter: int = 400,
                 meta: dict | None = None, progress: bool = False, tol: float = 1e-4) -> ConceptBasis:
    """NMF concepts of ``activations`` (N, C, h, w), array or float16 memmap: scikit-learn's
    NMF (coordinate descent, NNDSVDa start) of the positions ``gather_rows`` picks."""
    from sklearn.decomposition import NMF

    def solve(X):
        nmf = NMF(n_components=n_concepts, init="nndsvda", solver="cd", random_state=seed,
                  max_iter=max_iter, tol=tol)
        return nmf.fit_transform(X), nmf.components_, {}

    return fit_gathered(activations, n_concepts, solve, seed=seed, max_rows=max_rows, batch=batch,
                        indices=indices, progress=progress, meta=meta)


# --------------------------------------------------------------------------- maps
def _nnls_rows(B: np.ndarray, G: np.ndarray, max_iter: int = 1000, tol: float = 1e-10) -> np.ndarray:
    """Solve min_{u ≥ 0} ‖a − u·W‖² for every row, given B = A·Wᵀ and G = W·Wᵀ.

    Exact coordinate descent (HALS), each row on its own: a row stops when its update is
    below ``tol`` (relative), and rows never interact, so the result does not depend on
    which other rows share the chunk. Start: the unconstrained solution clipped at 0.
    """
    K = G.shape[0]
    diag = np.diag(G).copy()
    diag[diag <= 0] = 1.0
    U = np.maximum(np.linalg.lstsq(G, B.T, rcond=None)[0].T, 0.0)
    active = np.arange(B.shape[0])
    for _ in range(max_iter):
        if active.size == 0:
            break
        Ua, Ba = U[active], B[active]
        change = np.zeros(active.size)
        for k in range(K):
            new = np.maximum(Ua[:, k] + (Ba[:, k] - Ua @ G[:, k]) / diag[k], 0.0)
            change = np.maximum(change, np.abs(new - Ua[:, k]))
            Ua[:, k] = new
        U[active] = Ua
        scale = np.maximum(np.abs(Ua).max(1), 1e-12)
        active = active[change / scale > tol]
    return U


def project(basis: ConceptBasis, activations) -> np.ndarray:
    """B = A·Wᵀ (n·h·w, K) float64, rows in (image, y, x) order, negatives clipped first.

    Each image is one float32 product (K, C)·(C, h·w), so a chunk's result never depends
    on the chunk, and the (n, C, h, w) block is neither transposed nor widened to float64:
    that copying was half of the concept maps' time.
    """
    chunk = np.asarray(activations)
    n, c, h, w = chunk.shape
    A = np.maximum(chunk.reshape(n, c, h * w).astype(np.float32, copy=False), 0)
    B = np.matmul(basis.components.astype(np.float32), A)  # (n, K, h·w)
    return B.transpose(0, 2, 1).reshape(n * h * w, -1).astype(np.float64)


def concept_maps(basis: ConceptBasis, activations, batch: int = 64, out: np.ndarray | None = None,
                 progress: bool = False) -> np.ndarray:
    """Concept maps U (n, K, h, w) of ``activations`` (n, C, h, w) with the basis fixed.

    Non-negative least squares per position, deterministic and independent of ``batch``
    (chunked == unchunked). ``out`` (e.g. a float16 memmap of shape (n, K, h, w)) receives
    the result chunk by chunk for datasets that do not fit in memory.
    """
    n, c, h, w = check_4d(activations)
    if c != basis.n_channels:
        raise ValueError(f"activations have {c} channels, the concept basis {basis.n_channels}")
    K = basis.n_concepts
    if out is None:
        out = np.empty((n, K, h, w), dtype=np.float32)
    elif tuple(out.shape) != (n, K, h, w):
        raise ValueError(f"out has shape {tuple(out.shape)}, need {(n, K, h, w)}")
    W = basis.components.astype(np.float64)
    G = W @ W.T
    starts = range(0, n, batch)
    for s in _progress(starts, len(starts), "concept maps", progress):
        B = project(basis, activations[s:s + batch])
        m = len(B) // (h * w)
        U = _nnls_rows(B, G)
        out[s:s + m] = U.reshape(m, h, w, K).transpose(0, 3, 1, 2)
    return out


def residual_norm(basis: ConceptBasis, activations, maps) -> np.ndarray:
    """Per image ‖A − U·W‖_F (n,): what the concepts miss in each image (negatives clipped)."""
    A = np.maximum(np.asarray(activations, dtype=np.float64), 0.0)
    recon = np.einsum("nkhw,kc->nchw", np.asarray(maps, dtype=np.float64),
                      basis.components.astype(np.float64))
    return np.sqrt(((A - recon) ** 2).sum((1, 2, 3)))


# --------------------------------------------------------------------------- importance
def concept_importance(maps, gradients, basis: ConceptBasis, reduce: str | None = "mean") -> np.ndarray:
    """CRAFT-style gradient × concept activation for one target logit.

    With A ≈ U·W: importance_k = Σ_positions U_k · (g · W_kᵀ), g = ∂logit/∂A. Summed over
    k it is Σ g·(U·W) ≈ Σ g·A, the first-order (gradient × activation) share of the
    logit, off by at most ‖g‖·‖A − U·W‖ (Cauchy–Schwarz). For a linear head after
    global average pooling Σ g·A is exactly logit − bias.

    ``maps`` (n, K, h, w); ``gradients`` (n, C, h, w), or (n, C) when the gradient is the
    same at every position (a head after global average pooling: then it is ∂logit/∂A at
    one position, i.e. ∂logit/∂pooled divided by h·w). Returns (K,) averaged over the n
    images, or (n, K) with ``reduce=None``.
    """
    U = np.asarray(maps, dtype=np.float64)
    g = np.asarray(gradients, dtype=np.float64)
    W = basis.components.astype(np.float64)
    if U.ndim != 4 or U.shape[1] != basis.n_concepts:
        raise ValueError(f"maps must be (n, {basis.n_concepts}, h, w), got {U.shape}")
    if g.shape[0] != U.shape[0] or g.shape[1] != basis.n_channels or g.ndim not in (2, 4):
        raise ValueError(f"gradients must be ({U.shape[0]}, {basis.n_channels}[, h, w]), got {g.shape}")
    if g.ndim == 2:
        imp = U.sum((2, 3)) * (g @ W.T)
    else:
        if g.shape[2:] != U.shape[2:]:
            raise ValueError(f"gradient maps {g.shape[2:]} differ from concept maps {U.shape[2:]}")
        imp = np.einsum("nkhw,nkhw->nk", U, np.einsum("nchw,kc->nkhw", g, W))
    if reduce is None:
        return imp
    if reduce == "mean":
        return imp.mean(0)
    raise ValueError(f"reduce must be 'mean' or None, got {reduce!r}")


class ImportanceSum:
    """Running concept × target importance (``concept_class_importance`` chunk by chunk), so
    that a stage already holding each chunk's maps and gradients need not read them again."""

    def __init__(self, basis: ConceptBasis, n_targets: int):
        self.basis, self.n_targets = basis, n_targets
        self.total = np.zeros((basis.n_concepts, n_targets))
        self.counts = np.zeros(n_targets, dtype=np.int64)

    def add(self, maps, grads, labels) -> None:
        """One chunk: maps (n, K, h, w); gradients of every target logit, (n, T, C) or
        (n, T, C, h, w); labels (n,) ints, or None to average over all images."""
        grads = np.asarray(grads)
        if grads.shape[1] != self.n_targets:
            raise ValueError(f"gradients have {grads.shape[1]} targets, expected {self.n_targets}")
        if labels is None:
            for t in range(self.n_targets):
                self.total[:, t] += concept_importance(maps, grads[:, t], self.basis, reduce=None).sum(0)
            self.counts += grads.shape[0]
            return
        labels = np.asarray(labels, dtype=np.int64)
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= self.n_targets:
            raise ValueError(f"labels must lie in [0, {self.n_targets}), got {labels.min()}..{labels.max()}")
        own = grads[np.arange(labels.size), labels]  # each image's gradient of its own logit
        imp = concept_importance(maps, own, self.basis, reduce=None)
        np.add.at(self.total.T, labels, imp)
        self.counts += np.bincount(labels, minlength=self.n_targets)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(K, T) mean importance (NaN for targets without images) and (T,) image counts."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.total / np.where(self.counts > 0, self.counts, np.nan), self.counts.copy()


def concept_class_importance(chunks: Iterable[tuple], basis: ConceptBasis, n_targets: int
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Concept × target importance over a dataset: (K, T) matrix and (T,) image counts.

    ``chunks`` yields ``(maps, gradients, labels)``: maps (n, K, h, w); gradients of every
    target logit, (n, T, C) or (n, T, C, h, w); labels (n,) ints or None. With labels,
    column t averages the importance for logit t over the images labelled t ("what makes
    a Tokyo photo look like Tokyo"); without, over all images. Targets without images
    get NaN.
    """
    acc = ImportanceSum(basis, n_targets)
    for maps, grads, labels in chunks:
        acc.add(maps, grads, labels)
    return acc.result()


# --------------------------------------------------------------------------- one image
def neuron_groups(activations, k: int = 6, seed: int = 0, max_iter: int = 500
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Building Blocks' neuron groups of ONE image: NMF of its (h·w, C) activations.

    Returns spatial maps (k, h, w) and channel directions (k, C) (unit rows), groups
    ordered by activation mass. Groups are per image, so they fit the picture much
    better than dataset concepts do; used for the per-image "what the net sees here" view.
    """
    from sklearn.decomposition import NMF

    A = np.asarray(activations, dtype=np.float64)
    if A.ndim != 3:
        raise ValueError(f"activations of one image must be (C, h, w), got {A.shape}")
    c, h, w = A.shape
    X = np.maximum(A.reshape(c, h * w).T, 0.0)
    if not np.any(X):
        return np.zeros((k, h, w), dtype=np.float32), np.zeros((k, c), dtype=np.float32)
    init = "nndsvda" if k <= min(X.shape) else "random"
    nmf = NMF(n_components=k, init=init, solver="cd", random_state=seed, max_iter=max_iter, tol=1e-4)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Maximum number of iterations")
        U = nmf.fit_transform(X)
    W, U = _unit_rows(nmf.components_, U)
    order = np.argsort(-U.sum(0), kind="stable")
    maps = U[:, order].T.reshape(k, h, w)
    return maps.astype(np.float32), W[order].astype(np.float32)
