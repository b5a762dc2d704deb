"""Cosine nearest neighbours on an index, never all pairs.

:class:`CosineIndex` is faiss's exact ``IndexFlatIP`` over unit rows (inner product =
cosine similarity): it is filled ``chunk`` rows at a time from a (memory-mapped or zarr)
array read by integer indices, and queried in chunks, so no (queries × index) distance
matrix is ever held — faiss compares a block of queries with the index and keeps only the
``k`` best per query. Its memory is the index itself: the indexed rows, float32.

Exact: the answers are those of comparing every pair (tested against numpy on small
data), up to float32 rounding of the similarities.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

CHUNK = 4096


def unit_rows(feats: np.ndarray) -> np.ndarray:
    feats = np.asarray(feats, dtype=np.float32)
    return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)


class CosineIndex:
    """Exact cosine k-nearest-neighbour search over rows ``ids`` of an (N, d) array."""

    def __init__(self, dim: int):
        import faiss

        self.dim = int(dim)
        self.index = faiss.IndexFlatIP(self.dim)
        self.ids = np.zeros(0, dtype=np.int64)

    @classmethod
    def from_rows(cls, feats, rows: Sequence[int] | None = None, chunk: int = CHUNK) -> CosineIndex:
        """The index of ``feats[rows]`` (every row when None), read ``chunk`` rows at a time."""
        rows = np.arange(len(feats)) if rows is None else np.asarray(rows, dtype=np.int64)
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
        return self.ids[pos], sims

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
