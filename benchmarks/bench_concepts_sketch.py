"""The sketched NMF next to scikit-learn's NMF, on the same positions, side by side.

    python benchmarks/bench_concepts_sketch.py [--activations A.npy ...] [--rows 16384] [--ranks 32,64,96]

For each activation array (N, C, h, w) (``.npy``, or a run cache's folder whose
``activations`` it reads; without ``--activations``: synthetic demo-like activations, 600
images of 7×7 positions × 1,280 channels, as ``bench_concepts_stream.py`` makes them), the
positions the concepts stage fits (``gather_rows``: a seeded sample of at most ``--rows``)
are fitted with 12 concepts by

* ``nmf``          scikit-learn's ``NMF(init="nndsvda", solver="cd")`` (``concept_fit=full``);
* ``sketch r=R``   the same start, steps and stopping rule on a rank-R sketch
                   (``explain/concepts/sketch.py``; ``concept_fit=sketch``, R = 64 by default),

each ``--repeats`` times, alternating. Printed per fit: the fastest and slowest seconds,
iterations, relative error ‖X − W·H‖/‖X‖ on the fitted positions, and the Pearson
correlation of its concepts with the plain NMF's, each matched to one by the Hungarian
assignment (worst and median), and the time ratio to the plain NMF's.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.explain.concepts.factorize import gather_rows  # noqa: E402
from analysis.explain.concepts.sketch import SKETCH_RANK, sketched_nmf  # noqa: E402


def load(path: str | None, seed: int = 0):
    if path is None:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_concepts_stream import synthetic  # noqa: E402
        from analysis.store import RunCache

        cache = RunCache(Path(tempfile.mkdtemp(prefix="bench-sketch-")) / "cache")
        synthetic(cache, 600, 1280, 7, 12, "demo", seed)
        return "synthetic demo-like (600 × 1280 × 7 × 7)", cache.array("activations")
    p = Path(path)
    if p.suffix == ".npy":
        return p.name, np.load(p, mmap_mode="r")
    from analysis.store import RunCache

    return p.name, RunCache(p).array("activations")


def matched(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    a = A - A.mean(1, keepdims=True)
    b = B - B.mean(1, keepdims=True)
    C = (a @ b.T) / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    r, c = linear_sum_assignment(-C)
    return C[r, c]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--activations", nargs="*", default=[None])
    ap.add_argument("--rows", type=int, default=16_384)
    ap.add_argument("--ranks", default=f"32,{SKETCH_RANK},96")
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from sklearn.decomposition import NMF

    warnings.filterwarnings("ignore", message="Maximum number of iterations")
    for path in args.activations:
        name, acts = load(path)
        X, _, _ = gather_rows(acts, 0, args.rows)
        print(f"\n{name}: {X.shape[0]:,} positions × {X.shape[1]:,} channels, {args.k} concepts", flush=True)
        fits = {"nmf": None, **{f"sketch r={r}": int(r) for r in args.ranks.split(",")}}
        seconds = {f: [] for f in fits}
        result = {}
        for _ in range(args.repeats):
            for fit, rank in fits.items():
                t = time.perf_counter()
                if rank is None:
                    nmf = NMF(args.k, init="nndsvda", solver="cd", random_state=0, max_iter=400, tol=1e-4)
                    W = nmf.fit_transform(X)
                    H, it = nmf.components_, nmf.n_iter_
                else:
                    W, H, it = sketched_nmf(X, args.k, 0, rank=rank)
                seconds[fit].append(time.perf_counter() - t)
                result[fit] = (W, H, it)
        ref = result["nmf"][1]
        base = min(seconds["nmf"])
        print(f"{'fit':<12} {'seconds':>12} {'x nmf':>6} {'iters':>6} {'rel. error':>10} {'worst':>6} {'median':>6}")
        for fit, (W, H, it) in result.items():
            rel = np.linalg.norm(X - W @ H) / np.linalg.norm(X)
            m = matched(H, ref)
            s = seconds[fit]
            print(f"{fit:<12} {min(s):>5.2f}–{max(s):<5.2f} {min(s) / base:>6.2f} {it:>6} {rel:>10.4f} "
                  f"{m.min():>6.3f} {np.median(m):>6.3f}", flush=True)


if __name__ == "__main__":
    main()
