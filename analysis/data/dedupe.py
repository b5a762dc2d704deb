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


class HashIndex:
    """Near-duplicate search on 64-bit pHashes without comparing all pairs: faiss's
    multi-index hashing (``IndexBinaryMultiHash``). The hash is cut into ``threshold``
    blocks; two hashes closer than ``threshold`` bits agree exactly on at least one block
    (pigeonhole), so only the images sharing a block are compared. Exact — the same
    answers as all pairs (tests/analysis/data/test_dedupe.py) — and hashes can be added
    one at a time, as an import goes."""

    def __init__(self, threshold: int = DEFAULT_THRESHOLD):
        import faiss

        self.threshold = int(threshold)
        blocks = min(max(self.threshold, 1), 64)
        self.index = faiss.IndexBinaryMultiHash(64, blocks, 64 // blocks)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    @staticmethod
    def codes(hexes: Sequence[str]) -> np.ndarray:
        return np.ascontiguousarray(hashes_to_uint64(hexes)).view(np.uint8).reshape(-1, 8)

    def add(self, hexes: Sequence[str]) -> None:
        if len(hexes):
            self.index.add(self.codes(hexes))
            self.size += len(hexes)

    def within(self, hexes: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query hash, (indices, distances) of every indexed hash closer than
        ``threshold`` bits, sorted by distance then index."""
        if not len(hexes) or not self.size or self.threshold <= 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.int32)) for _ in hexes]
        lims, dist, idx = self.index.range_search(self.codes(hexes), self.threshold)
        out = []
        for q in range(len(hexes)):
            i, d = idx[lims[q]:lims[q + 1]], dist[lims[q]:lims[q + 1]]
            order = np.lexsort((i, d))
            out.append((i[order].astype(np.int64), d[order].astype(np.int32)))
        return out

    def nearest(self, hexes: Sequence[str]) -> list[tuple[int, int] | None]:
        """(index, distance) of each query's nearest indexed hash closer than ``threshold``
        (ties: the lowest index), else None."""
        return [(int(i[0]), int(d[0])) if len(i) else None for i, d in self.within(hexes)]


def nearest_within(
    query: Sequence[str], reference: Sequence[str], threshold: int = DEFAULT_THRESHOLD,
) -> list[tuple[int, int] | None]:
    """For each query hash, (index in reference, distance) of its nearest reference hash
    when that distance is below ``threshold`` (ties: the lowest index), else None."""
    if not len(query) or not len(reference):
        return [None] * len(query)
    index = HashIndex(threshold)
    index.add(reference)
    return index.nearest(query)


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

    index = HashIndex(threshold)
    index.add(hexes)
    for start in range(0, n, 4096):
        for q, (near, _) in enumerate(index.within(hexes[start:start + 4096]), start):
            for j in near:
                if q < j:
                    ri, rj = find(q), find(int(j))
                    if ri != rj:
                        parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)])
