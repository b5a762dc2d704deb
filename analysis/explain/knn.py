"""Cosine nearest neighbours on an index, never a matrix of all pairs.

:class:`CosineIndex` holds unit rows in faiss (inner product = cosine similarity): it is
filled ``chunk`` rows at a time from a (memory-mapped or zarr) array read by integer
indices, and queried in chunks, so no (queries × index) distance matrix is ever held —
faiss keeps only the ``k`` best per query. Its memory is the index itself: the indexed
rows, float32.

Up to ``EXACT_MAX`` indexed rows it is exact (``IndexFlatIP``: the answers of comparing
every pair, tested against numpy). An exact search still *computes* every pair, so the
map stage's search of every image grows with N²: about 1,000 s at 300,000 images of 1,280
features here, hours at a million. Beyond ``EXACT_MAX`` it is an inverted file
(``IndexIVFFlat``): k-means cuts the rows into √n lists (trained on a seeded sample), and
a query compares itself only with the rows of its ``PROBE`` nearest lists, so the search
grows with N^1.5. Measured (``benchmarks/bench_knn.py``, 1,280 features): at 300,000 rows
506 s instead of 1,038 s for every row's 15 neighbours, recall 1.000 on clustered
synthetic features; on the 20,000 pooled features of the Lite0 scale run (procedural photos, 141 lists)
recall 0.989, but no faster there (BLAS makes the exact search cheap per pair: the inverted
file wins from about 100,000 rows). A query whose probed lists hold fewer than ``k`` rows
probes twice as many, up to all of them (then it is exact).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

CHUNK = 4096
EXACT_MAX = 100_000
"""Indexed rows up to which the search is exact; beyond, an inverted file (see above)."""
PROBE = 16
TRAIN_PER_LIST = 40
"""k-means training rows per list (faiss warns below 39)."""


def unit_rows(feats: np.ndarray) -> np.ndarray:
    feats = np.asarray(feats, dtype=np.float32)
    return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)


def ivf_lists(n: int) -> int:
    """The inverted file's number of lists for ``n`` rows: √n (faiss's usual 4√n costs more
    to train than it saves at these sizes)."""
    return max(1, int(round(np.sqrt(n))))


class CosineIndex:
    """Cosine k-nearest-neighbour search over rows ``ids`` of an (N, d) array: exact, or an
    inverted file of ``lists`` lists (``probe`` of them searched) once :meth:`train` ed."""

    def __init__(self, dim: int, lists: int = 0, probe: int = PROBE):
        import faiss

        self.dim = int(dim)
        if lists:
            self.quantizer = faiss.IndexFlatIP(self.dim)  # the IVF index does not own it: keep it alive
            self.index = faiss.IndexIVFFlat(self.quantizer, self.dim, int(lists), faiss.METRIC_INNER_PRODUCT)
            self.index.nprobe = min(int(probe), int(lists))
        else:
            self.index = faiss.IndexFlatIP(self.dim)
        self.ids = np.zeros(0, dtype=np.int64)

    @property
    def exact(self) -> bool:
        return not hasattr(self.index, "nprobe")

    def train(self, sample: np.ndarray) -> None:
        """Fit the inverted file's lists (k-means, faiss's fixed seed) to ``sample`` rows."""
        self.index.train(np.ascontiguousarray(unit_rows(sample)))

    @classmethod
    def from_rows(cls, feats, rows: Sequence[int] | None = None, chunk: int = CHUNK,
                  exact_max: int = EXACT_MAX, seed: int = 0) -> CosineIndex:
        """The index of ``feats[rows]`` (every row when None), read ``chunk`` rows at a time;
        beyond ``exact_max`` rows an inverted file trained on a ``seed``-ed sample of them."""
        rows = np.arange(len(feats)) if rows is None else np.asarray(rows, dtype=np.int64)
        if len(rows) > exact_max:
            lists = ivf_lists(len(rows))
            index = cls(feats.shape[1], lists)
            size = min(len(rows), lists * TRAIN_PER_LIST)
            sample = np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))
            index.train(np.concatenate([np.asarray(feats[sample[a:a + chunk]], dtype=np.float32)
                                        for a in range(0, size, chunk)]))
        else:
            index = cls(feats.shape[1])
        for a in range(0, len(rows), chunk):
            part = rows[a:a + chunk]
            index.add(np.asarray(feats[part], dtype=np.float32), part)
        return index

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, feats: np.ndarray, ids: Sequence[int]) -> None:
        """Index rows ``feats`` (n, d) under ``ids`` (what :meth:`search` returns for them)."""
        feats = np.ascontiguousarray(unit_rows(feats))
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise ValueError(f"features of shape {feats.shape} for an index of dimension {self.dim}")
        self.index.add(feats)
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, cosine similarities)`` (n, k) of the ``k`` nearest indexed rows of each query,
        most similar first (``k`` at most the index size)."""
        queries = np.ascontiguousarray(unit_rows(np.atleast_2d(queries)))
        if queries.shape[1] != self.dim:
            raise ValueError(f"queries have {queries.shape[1]} features, the index {self.dim}")
        k = min(int(k), len(self))
        sims, pos = self.index.search(queries, k)
        short = np.flatnonzero((pos < 0).any(1))  # an inverted file's probed lists held < k rows
        if short.size:
            sims[short], pos[short] = self._search_wider(queries[short], k)
        return self.ids[pos], sims

    def _search_wider(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Search again probing twice as many lists, until every query has ``k`` answers
        (at the latest when every list is probed: an exact search)."""
        probe = self.index.nprobe
        try:
            while True:
                self.index.nprobe = min(self.index.nprobe * 2, self.index.nlist)
                sims, pos = self.index.search(queries, k)
                if (pos >= 0).all() or self.index.nprobe == self.index.nlist:
                    return sims, pos
        finally:
            self.index.nprobe = probe

    def search_rows(self, feats, k: int, chunk: int = CHUNK, exclude_self: bool = False
                    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """``(start, ids, similarities)`` for the rows of ``feats``, ``chunk`` rows at a time.
        With ``exclude_self`` a row is never its own neighbour (ids compared with the row's
        number): one more is searched and the row itself dropped."""
        k = min(int(k), len(self) - (1 if exclude_self else 0))
        for a in range(0, len(feats), chunk):
            q = np.asarray(feats[a:a + chunk], dtype=np.float32)
            if not exclude_self:
                ids, sims = self.search(q, k)
                yield a, ids, sims
                continue
            ids, sims = self.search(q, k + 1)
            mine = ids == np.arange(a, a + len(q))[:, None]
            # keep the first k that are not the row itself (at most one per row is)
            keep = np.argsort(mine, axis=1, kind="stable")[:, :k]
            yield a, np.take_along_axis(ids, keep, 1), np.take_along_axis(sims, keep, 1)
