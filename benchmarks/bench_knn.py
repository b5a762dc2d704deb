"""Exact cosine search against the inverted file beyond ``knn.EXACT_MAX``: time and recall.

    python benchmarks/bench_knn.py [--sizes 20000,100000,300000] [--dim 1280] [--queries 2000]
    python benchmarks/bench_knn.py --run RUN[@DATASET] --cache-root DIR   # a cache's pooled features

For each size N (rows of a clustered synthetic feature matrix, or the first N rows of a
cache's pooled features), both indexes are built over the N rows and queried with the same
``--queries`` rows (the map stage queries every image: multiply the per-query time by N),
side by side in one process. Prints build seconds, query seconds per 1,000 queries, their
ratio, the projected time of the map stage's search of all N images, and the recall of
the 15 nearest neighbours (the exact index is the oracle).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

K = 15


def synthetic(n: int, dim: int, seed: int = 0, centres: int = 200) -> np.ndarray:
    """Non-negative clustered rows, like pooled ReLU features: centres plus noise."""
    rng = np.random.default_rng(seed)
    c = np.random.default_rng(99).gamma(0.5, 1.0, (centres, dim)).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    for a in range(0, n, 20_000):
        b = min(n, a + 20_000)
        out[a:b] = c[rng.integers(0, centres, b - a)] + rng.gamma(0.5, 0.5, (b - a, dim)).astype(np.float32)
    return out


def main() -> None:
    from analysis.explain.knn import CosineIndex

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20000,100000,300000")
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--run", default=None, help="read the pooled features of this run's cache (its first N rows)")
    ap.add_argument("--cache-root", type=Path, default=None)
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.run:
        from analysis.store import RunCache

        source = RunCache.for_run(args.run, args.cache_root).array("features")
        sizes = [n for n in sizes if n <= len(source)] or [len(source)]
        feats = np.asarray(source[:sizes[-1]], np.float32)
    else:
        feats = synthetic(sizes[-1], args.dim)
    print(f"{'rows':>8} {'lists':>6} {'build exact s':>14} {'build ivf s':>12} {'exact s/1k q':>13} "
          f"{'ivf s/1k q':>11} {'speed-up':>9} {'all-N exact s':>14} {'all-N ivf s':>12} {'recall@15':>10}",
          flush=True)
    for n in sizes:
        base = feats[:n]
        q = base[np.random.default_rng(1).choice(n, min(args.queries, n), replace=False)]
        t = time.perf_counter()
        exact = CosineIndex.from_rows(base, exact_max=10**12)
        build_exact = time.perf_counter() - t
        t = time.perf_counter()
        ivf = CosineIndex.from_rows(base, exact_max=0)
        build_ivf = time.perf_counter() - t
        t = time.perf_counter()
        truth, _ = exact.search(q, K)
        per_exact = (time.perf_counter() - t) / len(q) * 1000
        t = time.perf_counter()
        got, _ = ivf.search(q, K)
        per_ivf = (time.perf_counter() - t) / len(q) * 1000
        recall = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(got, truth)]))
        print(f"{n:>8} {ivf.index.nlist:>6} {build_exact:>14.2f} {build_ivf:>12.2f} {per_exact:>13.3f} "
              f"{per_ivf:>11.3f} {per_exact / per_ivf:>8.1f}× {per_exact * n / 1000 + build_exact:>14.0f} "
              f"{per_ivf * n / 1000 + build_ivf:>12.0f} {recall:>10.3f}", flush=True)


if __name__ == "__main__":
    main()
