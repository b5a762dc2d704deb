"""Concepts fitted at once (NMF) or as a stream (MiniBatchNMF.partial_fit), side by side.

    python benchmarks/bench_concepts_stream.py --sizes 600,2400 [--data demo|planted]

For N images of synthetic activations (7×7 positions, 1,280 channels as EfficientNet-
Lite0's ``bn2``; float16, written to a run cache and read back through
``RunCache.array("activations")``, as the concepts stage reads them), three fits of 12
concepts:

* ``full``       the plain NMF on up to ``--rows`` (100,000) positions gathered in memory
                 (the concepts stage before the stream, and ``concept_fit="full"``);
* ``full-all``   the plain NMF on every position (what gathering costs without the cap);
* ``minibatch``  the stream (``explain/concepts/stream.py``): NMF on 8,192 positions, then
                 mini-batches of 1,024 over up to ``--rows`` positions per pass;
* ``mb-nostart`` the same stream from MiniBatchNMF's own start (NNDSVDa of the first
                 mini-batch) instead of the NMF of 8,192 positions.

Printed per fit: seconds, peak memory of the fit (tracemalloc: every array numpy
allocates; the memory-mapped activations themselves are not counted), the relative
reconstruction error ‖A − U·W‖/‖A‖ on every position (U by non-negative least squares with
the concepts fixed, the same for every fit), and the Pearson correlation of its concepts
with the full fit's, each matched to one by the Hungarian assignment (mean and worst).
``--data planted`` plants exactly 12 concepts and adds their correlation with the truth.

``demo`` data: 24 concepts of decreasing strength (more than are fitted), each image of
one of 10 classes that favours some of them, sparse non-negative activations plus ReLU
noise: 12 concepts leave a relative error of about 0.31.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.explain.concepts.factorize import _nnls_rows, fit_concepts  # noqa: E402
from analysis.explain.concepts.stream import fit_concepts_minibatch  # noqa: E402
from analysis.store import RunCache  # noqa: E402


def synthetic(cache: RunCache, n: int, c: int, hw: int, k: int, data: str, seed: int = 0) -> np.ndarray:
    """Write (n, c, hw, hw) float16 activations to ``cache``'s ``activations``, 256 images at a
    time; returns the true concepts."""
    rng = np.random.default_rng(seed)
    true_k = 24 if data == "demo" else k
    W = rng.gamma(0.4, 1.0, (true_k, c)) * (rng.random((true_k, c)) < 0.25)
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    strength = 1.0 / (1 + np.arange(true_k)) ** 0.7 if data == "demo" else np.ones(true_k)
    pref = rng.random((10, true_k)) ** 3
    cls = rng.integers(0, 10, n)
    noise = 0.01 if data == "demo" else 0.002
    stream = cache.streaming("activations", (n, c, hw, hw), "float16", {"bench": data, "seed": seed})
    for s in range(0, n, 256):
        m = min(256, n - s)
        p = (0.08 + 0.5 * pref[cls[s:s + m]])[:, None, :]
        U = rng.exponential(1.0, (m, hw * hw, true_k)) * (rng.random((m, hw * hw, true_k)) < p) * strength
        X = U @ W + noise * np.maximum(rng.normal(size=(m, hw * hw, c)), 0)
        stream.write(s, X.reshape(m, hw, hw, c).transpose(0, 3, 1, 2))
    stream.finish()
    return W


def relative_error(acts, components: np.ndarray, chunk: int = 128) -> float:
    """‖A − U·W‖/‖A‖ over every position, U by non-negative least squares (W fixed)."""
    W = components.astype(np.float64)
    G = W @ W.T
    err = total = 0.0
    for s in range(0, len(acts), chunk):
        x = np.asarray(acts[s:s + chunk], np.float64)
        x = np.maximum(x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1]), 0)
        U = _nnls_rows(x @ W.T, G)
        err += float(((x - U @ W) ** 2).sum())
        total += float((x ** 2).sum())
    return float(np.sqrt(err / total))


def matched(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and worst Pearson correlation of ``a``'s rows with their Hungarian matches in ``b``."""
    za = (a - a.mean(1, keepdims=True)) / a.std(1, keepdims=True)
    zb = (b - b.mean(1, keepdims=True)) / b.std(1, keepdims=True)
    corr = za @ zb.T / a.shape[1]
    r, c = linear_sum_assignment(-corr)
    return float(corr[r, c].mean()), float(corr[r, c].min())


def measure(fit):
    import sklearn.decomposition  # noqa: F401  (imported before the clock starts)

    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    basis = fit()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return basis, seconds, peak / 2 ** 20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="600,2400", help="images")
    ap.add_argument("--channels", type=int, default=1280)
    ap.add_argument("--hw", type=int, default=7)
    ap.add_argument("--concepts", type=int, default=12)
    ap.add_argument("--rows", type=int, default=100_000, help="concept_rows")
    ap.add_argument("--data", choices=("demo", "planted"), default="demo")
    ap.add_argument("--skip-full-all", action="store_true")
    args = ap.parse_args()
    k = args.concepts
    print(f"{args.data} activations, {args.channels} channels, {args.hw}×{args.hw} positions, "
          f"{k} concepts, concept_rows {args.rows:,}")
    head = f"{'images':>7} {'positions':>9} {'fit':>10} {'rows fit':>9} {'s':>6} {'peak MiB':>9} " \
           f"{'rel. error':>10} {'corr. with full':>16}"
    print(head + ("  corr. with truth" if args.data == "planted" else ""))
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            cache = RunCache(Path(tmp) / "bench")
            truth = synthetic(cache, n, args.channels, args.hw, k, args.data)
            acts = cache.array("activations")
            rows = n * args.hw * args.hw
            fits = {
                "full": lambda: fit_concepts(acts, k, seed=0, max_rows=args.rows),
                "full-all": lambda: fit_concepts(acts, k, seed=0, max_rows=rows),
                "minibatch": lambda: fit_concepts_minibatch(acts, k, seed=0, max_rows=args.rows),
                "mb-nostart": lambda: fit_concepts_minibatch(acts, k, seed=0, max_rows=args.rows, warm_rows=0),
            }
            if args.skip_full_all or rows <= args.rows:
                fits.pop("full-all")  # the same fit as "full" when nothing is capped
            ref = None
            for name, fit in fits.items():
                basis, seconds, peak = measure(fit)
                ref = basis.components if ref is None else ref
                mean, worst = matched(basis.components, ref)
                line = (f"{n:>7} {rows:>9,} {name:>10} {basis.n_rows:>9,} {seconds:>6.1f} {peak:>9.0f} "
                        f"{relative_error(acts, basis.components):>10.4f} {mean:>9.4f} ({worst:.3f})")
                if args.data == "planted":
                    tm, tw = matched(basis.components, truth)
                    line += f"  {tm:.4f} ({tw:.3f})"
                print(line, flush=True)


if __name__ == "__main__":
    main()
