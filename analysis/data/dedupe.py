"""Near-duplicate detection with perceptual hashes (imagehash's pHash).

Crawled photo sets are full of re-posts, crops and resized copies; left in, they leak
between train and test and inflate accuracy. Two images are near-duplicates when the
Hamming distance of their 64-bit pHashes is below a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import imagehash
import numpy as np
from PIL import Image

DEFAULT_THRESHOLD = 6  # distance < 6 bits of 64: resized/re-encoded copies, light crops


def phash_hex(img: Image.Image) -> str:
    return str(imagehash.phash(img))


def hashes_to_uint64(hexes: Sequence[str]) -> np.ndarray:
    return np.array([int(h, 16) for h in hexes], dtype=np.uint64)


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    bytes_ = x.view(np.uint8).reshape(*x.shape, 8)
    return np.unpackbits(bytes_, axis=-1).sum(axis=-1)


def hamming_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances between two arrays of 64-bit hashes."""
    return _popcount(a[:, None] ^ b[None, :]).astype(np.int16)


def nearest_within(
    query: Sequence[str], reference: Sequence[str], threshold: int = DEFAULT_THRESHOLD,
    chunk: int = 2048,
) -> list[tuple[int, int] | None]:
    """For each query hash, (index in reference, distance) of its nearest reference hash
    when that distance is below ``threshold``, else None. Chunked: memory stays flat."""
    out: list[tuple[int, int] | None] = [None] * len(query)
    if not len(query) or not len(reference):
        return out
    q, r = hashes_to_uint64(query), hashes_to_uint64(reference)
    for start in range(0, len(q), chunk):
        d = hamming_matrix(q[start : start + chunk], r)
        best = d.argmin(axis=1)
        dist = d[np.arange(len(best)), best]
        for i, (j, dj) in enumerate(zip(best, dist)):
            if dj < threshold:
                out[start + i] = (int(j), int(dj))
    return out


def clusters(hexes: Sequence[str], threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """Connected components of the 'near-duplicate' graph: a label per hash (the index of
    the cluster's first member), so chains of near-copies end up together."""
    n = len(hexes)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    h = hashes_to_uint64(hexes)
    for start in range(0, n, 2048):
        d = hamming_matrix(h[start : start + 2048], h)
        ii, jj = np.nonzero(d < threshold)
        for i, j in zip(ii + start, jj):
            if i < j:
                ri, rj = find(int(i)), find(int(j))
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)])
