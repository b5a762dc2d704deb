"""Concepts fitted as a stream: scikit-learn's ``MiniBatchNMF.partial_fit`` over row chunks
of the stored activations, so that memory stays flat however many images there are.

``fit_concepts`` (factorize.py) gathers up to ``max_rows`` positions in memory and fits
NMF once: ``max_rows × C`` floats plus the solver's copies (a peak of 1.9 GB at 100,000
positions of EfficientNet-Lite0's 1,280 channels). The streaming fit holds one chunk of
images and one mini-batch of rows instead:

1. a seeded permutation of the images; the rows of its first images (``warm_rows``) get an
   NMF (coordinate descent, NNDSVDa; on its sketch, ``sketch.py``), the start of the stream. From MiniBatchNMF's
   own start (NNDSVDa of the first mini-batch alone, ``warm_rows=0``) one pass ends at a
   relative error of 0.326 instead of NMF's 0.310 on demo-like activations, 0.100 instead
   of 0.019 on planted ones (benchmarks/bench_concepts_stream.py);
2. ``epochs`` passes of ``partial_fit`` over mini-batches of ``batch_rows`` rows, each pass
   over a fresh permutation of the images (up to ``max_rows`` rows of whole images per
   pass, so the time per pass stays bounded too). A pass's images are read once, ``chunk``
   at a time in index order, and held in the stored dtype (``_PassRows``), then fed in the
   permutation's order; the rows are cut into mini-batches across chunk boundaries, so the
   result does not depend on ``chunk``;
3. one more streaming pass over the first pass's rows: every row's concept activations by
   non-negative least squares with the basis fixed (as ``concept_maps``), giving the
   relative error and the order of the concepts (largest activation mass first).

Deterministic for a seed. ``resolve_fit`` says which fit ``"auto"`` means for a dataset:
the sketched NMF (``sketch.py``: NMF's solver on a low-rank sketch, a fifth of its time)
up to ``MINIBATCH_FROM_ROWS`` positions, the stream beyond; ``"full"`` is the plain NMF
(what analyses before the sketch hold). Measured on demo-like activations (1,280
channels, 12 concepts): relative error 0.3097 vs NMF's 0.3095 at 29,400 positions, 0.3134
vs 0.3132 at 117,600; the concepts match NMF's at a Pearson correlation ≥ 0.994; peak
memory 195 MiB and 489 MiB (a pass held in float16, at most ``max_rows`` positions: flat
beyond that), the NMF's 587 MiB and 1.9 GB (2.3 GB without the cap).
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence

import numpy as np

from analysis.explain.concepts.factorize import ConceptBasis, _nnls_rows, _unit_rows, check_4d, fit_concepts
from analysis.explain.concepts.sketch import fit_concepts_sketched, sketched_nmf
from analysis.progress import bar

FITS = ("auto", "sketch", "full", "minibatch")
MINIBATCH_FROM_ROWS = 100_000
"""``"auto"`` streams (MiniBatchNMF) when the images to fit on have more positions than this;
below, the sketched NMF fits a sample of them at once (≤ ``max_rows`` × C floats)."""


def resolve_fit(fit: str, rows: int, threshold: int = MINIBATCH_FROM_ROWS) -> str:
    """``"sketch"``, ``"full"`` or ``"minibatch"``: what ``fit`` means for ``rows`` positions."""
    if fit not in FITS:
        raise ValueError(f"concept fit must be one of {', '.join(FITS)}, got {fit!r}")
    if fit != "auto":
        return fit
    return "minibatch" if rows > threshold else "sketch"


def fit_basis(activations, n_concepts: int = 12, fit: str = "auto", seed: int = 0, max_rows: int = 100_000,
              indices: Sequence[int] | None = None, meta: dict | None = None, progress: bool = False,
              tol: float = 1e-4, stream_rows: int | None = None, **stream) -> ConceptBasis:
    """Concepts of ``activations`` (N, C, h, w) by the sketched NMF, the plain NMF or the
    stream, as ``fit`` ("auto", "sketch", "full", "minibatch") says; ``meta["fit"]`` records
    which one ran. The sketched and the plain NMF fit a seeded sample of at most
    ``max_rows`` positions; the stream passes over ``stream_rows`` positions (default:
    ``max_rows``)."""
    n, _, h, w = check_4d(activations)
    images = n if indices is None else len(indices)
    method = resolve_fit(fit, images * h * w)
    meta = {**(meta or {}), "fit": method}
    if method == "sketch":
        return fit_concepts_sketched(activations, n_concepts, seed=seed, max_rows=max_rows, indices=indices,
                                     meta=meta, progress=progress, tol=tol)
    if method == "full":
        return fit_concepts(activations, n_concepts, seed=seed, max_rows=max_rows, indices=indices,
                            meta=meta, progress=progress, tol=tol)
    return fit_concepts_minibatch(activations, n_concepts, seed=seed, max_rows=stream_rows or max_rows, indices=indices,
                                  meta=meta, progress=progress, tol=tol, **stream)


# --------------------------------------------------------------------------- reading rows
class _PassRows:
    """One pass's images read once, in index order, and kept in the stored dtype (float16:
    ``max_rows`` positions × C × 2 bytes, whatever N), then handed out in the pass's random
    order. Reading the random order straight from the chunked store decoded a whole inner
    chunk (16 images) for every image: 20 of the stream's 24 s at 20,000 images."""

    def __init__(self, activations, images: np.ndarray, read: int):
        self.distinct, self.back = np.unique(images, return_inverse=True)
        self.rows = np.concatenate([np.asarray(activations[self.distinct[s:s + read]])
                                    for s in range(0, len(self.distinct), read)])

    def first(self, m: int, c: int) -> np.ndarray:
        """The rows of the pass's first ``m`` images, in its order, as float32 (m·h·w, C)."""
        block = np.asarray(self.rows[self.back[:m]], dtype=np.float32)
        return block.transpose(0, 2, 3, 1).reshape(-1, c)

    def chunks(self, c: int, chunk: int) -> Iterator[np.ndarray]:
        """The pass's rows, ``chunk`` images at a time in the pass's order, as float32 (n·h·w, C)."""
        for s in range(0, len(self.back), chunk):
            block = np.asarray(self.rows[self.back[s:s + chunk]], dtype=np.float32)
            yield block.transpose(0, 2, 3, 1).reshape(-1, c)


def _minibatches(chunks: Iterator[np.ndarray], batch_rows: int) -> Iterator[np.ndarray]:
    """Consecutive ``batch_rows`` rows of the chunks' concatenation (the last one shorter):
    the same mini-batches whatever the chunk size."""
    buffer: list[np.ndarray] = []
    held = 0
    for rows in chunks:
        buffer.append(rows)
        held += len(rows)
        while held >= batch_rows:
            joined = np.concatenate(buffer) if len(buffer) > 1 else buffer[0]
            yield joined[:batch_rows]
            rest = joined[batch_rows:]
            buffer, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield np.concatenate(buffer)


# --------------------------------------------------------------------------- the stream
def fit_concepts_minibatch(activations, n_concepts: int = 12, seed: int = 0, max_rows: int = 100_000,
                           indices: Sequence[int] | None = None, chunk: int = 64, batch_rows: int = 1024,
                           warm_rows: int = 8192, epochs: int = 1, forget: float = 0.7,
                           max_iter: int = 400, tol: float = 1e-4, meta: dict | None = None,
                           progress: bool = False) -> ConceptBasis:
    """Streaming NMF concepts of ``activations`` (N, C, h, w) (see the module's steps).

    ``max_rows``: rows (whole images) per pass; ``forget``: how much of the accumulated
    statistics survive one pass (MiniBatchNMF's ``forget_factor``, rescaled from per
    mini-batch to per pass). Memory: ``chunk`` images and ``warm_rows`` rows, whatever N.
    """
    from sklearn.decomposition import MiniBatchNMF

    n_all, c, h, w = check_4d(activations)
    if n_concepts < 1:
        raise ValueError(f"n_concepts must be >= 1, got {n_concepts}")
    if n_concepts > c:
        raise ValueError(f"n_concepts={n_concepts} exceeds the {c} channels")
    images = np.arange(n_all) if indices is None else np.asarray(indices, dtype=np.int64)
    if images.size == 0:
        raise ValueError("no images to fit concepts on")
    hw = h * w
    per_pass = int(min(images.size, max(1, -(-max_rows // hw))))
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(images)[:per_pass] for _ in range(max(1, epochs))]

    # 1. the start: an NMF (sketched) of the first images of the first pass (warm_rows ≤ 0:
    #    MiniBatchNMF's own start, NNDSVDa of the first mini-batch, kept for comparison)
    warm = orders[0][:max(1, min(per_pass, -(-warm_rows // hw)))] if warm_rows > 0 else orders[0][:1]
    first = _PassRows(activations, orders[0], chunk)  # the start's rows are its first images': read once
    X = np.maximum(first.first(len(warm), c), 0)
    if n_concepts > min(X.shape) and warm_rows > 0:
        raise ValueError(f"n_concepts={n_concepts} exceeds min(rows, channels)={min(X.shape)}")
    if not np.any(X) and warm_rows > 0:
        raise ValueError("activations are all zero (after clipping negatives); nothing to factorise")
    H0 = None
    if warm_rows > 0:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Maximum number of iterations")
            H0 = sketched_nmf(X, n_concepts, seed, max_iter=max_iter, tol=tol)[1].astype(np.float32)
    del X

    # 2. the passes: one partial_fit per mini-batch
    steps_per_pass = max(1, -(-per_pass * hw // batch_rows))
    model = MiniBatchNMF(n_components=n_concepts, init="custom" if H0 is not None else "nndsvda",
                         batch_size=batch_rows, random_state=seed,
                         forget_factor=forget ** (1.0 / steps_per_pass), tol=tol)
    fed = 0
    total = len(orders) * steps_per_pass
    with bar(total=total, desc="concept stream", unit="batch", disable=not progress) as done:
        for p, order in enumerate(orders):
            held = first if p == 0 else _PassRows(activations, order, chunk)
            for rows in _minibatches(held.chunks(c, chunk), batch_rows):
                rows = np.maximum(rows, 0)
                if fed == 0 and H0 is not None:  # the custom start: H0, and a W guess the step does not use
                    model.partial_fit(rows, W=np.ones((len(rows), n_concepts), np.float32), H=H0)
                else:
                    model.partial_fit(rows)
                fed += len(rows)
                done.update(1)

    # 3. error and order over the first pass's rows, the basis fixed
    W, _ = _unit_rows(model.components_.astype(np.float64))
    G = W @ W.T
    mass = np.zeros(n_concepts)
    sq_err = sq_all = 0.0
    negatives = seen = 0
    W32 = W.astype(np.float32)
    for rows in first.chunks(c, chunk):
        negatives += int((rows < 0).sum())
        seen += rows.size
        x = np.maximum(rows, 0)
        B = (x @ W32.T).astype(np.float64)
        U = _nnls_rows(B, G)
        mass += U.sum(0)
        # ‖x − U·W‖² = ‖x‖² − 2⟨U, x·Wᵀ⟩ + ⟨U·G, U⟩: (rows × K) work, never a (rows × C) residual
        x_sq = float(np.einsum("ij,ij->", x, x, dtype=np.float64))
        sq_err += x_sq - 2.0 * float((U * B).sum()) + float(((U @ G) * U).sum())
        sq_all += x_sq
    order = np.argsort(-mass, kind="stable")
    rel = float(np.sqrt(max(sq_err, 0.0) / sq_all)) if sq_all > 0 else 0.0
    info = {**(meta or {}), "fit": "minibatch", "rows_fed": int(fed), "passes": len(orders),
            "batch_rows": int(batch_rows), "warm_rows": int(len(warm) * hw) if warm_rows > 0 else 0}
    return ConceptBasis(components=W[order].astype(np.float32), relative_error=rel, explained=1.0 - rel ** 2,
                        n_rows=int(per_pass * hw), n_images=int(images.size), seed=seed,
                        negative_fraction=negatives / max(seen, 1), meta=info)
