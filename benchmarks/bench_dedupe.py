"""Near-duplicate search: faiss multi-index hashing against all pairs, side by side.

    python benchmarks/bench_dedupe.py --sizes 10000,50000,200000

For N random 64-bit pHashes with planted near-copies: the time to find every hash's
nearest neighbour closer than 6 bits (what an import and the shortcut finder ask) with the
index, and with all pairs (chunked numpy popcount, the former way; measured on a slice of
the queries and scaled, since all pairs of 200,000 hashes take minutes), the ratio, and
whether both give the same answers on the slice.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "analysis" / "data"))

from analysis.data.dedupe import hamming_matrix, hashes_to_uint64, nearest_within  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,50000,200000")
    ap.add_argument("--slice", type=int, default=2000, help="queries timed with all pairs")
    args = ap.parse_args()
    from test_dedupe import _random_hashes  # the tests' generator: planted near-copies

    print(f"{'hashes':>8} {'index s':>8} {'all pairs s (est.)':>19} {'ratio':>7} same")
    for n in (int(s) for s in args.sizes.split(",")):
        hexes = _random_hashes(n, planted=n // 10)
        t0 = time.perf_counter()
        fast = nearest_within(hexes, hexes[::-1], 6)
        t_index = time.perf_counter() - t0
        q = hexes[: args.slice]
        ref = hashes_to_uint64(hexes[::-1])
        t0 = time.perf_counter()
        slow = []
        for a in range(0, len(q), 512):
            d = hamming_matrix(hashes_to_uint64(q[a:a + 512]), ref)
            best = d.argmin(axis=1)
            slow += [(int(j), int(d[i, j])) if d[i, j] < 6 else None for i, j in enumerate(best)]
        t_pairs = (time.perf_counter() - t0) * n / len(q)
        print(f"{n:>8} {t_index:>8.2f} {t_pairs:>19.1f} {t_pairs / t_index:>7.0f}x {fast[:len(q)] == slow}")


if __name__ == "__main__":
    main()
