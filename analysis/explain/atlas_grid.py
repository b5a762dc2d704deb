"""The activation atlas's grid: the 2-D UMAP plane cut into square cells at several zoom
levels, each cell summarised by its images (as in Carter et al., *Activation Atlas*,
Distill 2019).

* **Plane.** The bounding square of every image's (x, y) (the longer side of the
  bounding box, the shorter one centred), so cells are square at every level.
* **Levels** are powers of two (8, 16, 32, 64 cells a side by default): the cells of a
  level are exact unions of 2 × 2 cells of the next, a quadtree.
* **Per cell:** how many images, the mean of their pooled features (the cell's mean
  activation), the *typical* image — the one whose features are closest (Euclidean) to
  that mean, the lowest row on a tie — the counts of every true and predicted class,
  correct predictions and splits.
* **Points in Morton order.** Every image is listed once, sorted by the Morton (Z-order)
  code of its finest-level cell, then by row. In that order the images of ANY cell of ANY
  level are one contiguous run (``start``, ``count``): a page reads one cell's images, or
  a region's, as a few slices — never the whole list.

Streaming: the features are read ``rows_per_chunk`` rows at a time (two passes: sums,
then distances to the means); per-cell sums are kept at the finest level only and added up
for coarser levels. Memory: the chunk, the finest level's sums (cells × C, float64) and
a few int arrays of length N.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

LEVELS = (8, 16, 32, 64)
CHUNK_BYTES = 64 << 20  # a chunk of features (and its distance scratch) is about this big
POINT_COLUMNS = ("x", "y", "row", "class", "pred", "correct", "split", "p_pred")
"""Columns of the points array (every image, in Morton order)."""


@dataclass(frozen=True)
class Plane:
    """The square the grid covers: lower-left corner (x0, y0) and side."""

    x0: float
    y0: float
    side: float

    @classmethod
    def around(cls, x: np.ndarray, y: np.ndarray) -> Plane:
        if len(x) == 0:
            return cls(0.0, 0.0, 1.0)
        xmin, xmax, ymin, ymax = float(np.min(x)), float(np.max(x)), float(np.min(y)), float(np.max(y))
        side = max(xmax - xmin, ymax - ymin)
        x0, y0 = xmin - (side - (xmax - xmin)) / 2, ymin - (side - (ymax - ymin)) / 2
        return cls(x0, y0, side * (1 + 1e-6) if side > 0 else 1.0)  # the maximum: inside the last cell

    def cells(self, x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(ix, iy) of the level-``n`` cell of each point (clipped into the grid)."""
        ix = np.floor((np.asarray(x, np.float64) - self.x0) / self.side * n).astype(np.int64)
        iy = np.floor((np.asarray(y, np.float64) - self.y0) / self.side * n).astype(np.int64)
        return np.clip(ix, 0, n - 1), np.clip(iy, 0, n - 1)

    def bounds(self, n: int, ix, iy) -> tuple[np.ndarray, ...]:
        """x0, x1, y0, y1 of level-``n`` cells (ix, iy)."""
        w = self.side / n
        ix, iy = np.asarray(ix, np.float64), np.asarray(iy, np.float64)
        return self.x0 + ix * w, self.x0 + (ix + 1) * w, self.y0 + iy * w, self.y0 + (iy + 1) * w


def check_levels(levels: Sequence[int]) -> tuple[int, ...]:
    out = tuple(sorted({int(n) for n in levels}))
    if not out or any(n < 1 or n > 1024 or n & (n - 1) for n in out):
        raise ValueError(f"atlas levels must be powers of two between 1 and 1024, got {list(levels)}")
    return out


def parse_levels(text: str | int | Sequence[int]) -> tuple[int, ...]:
    """``"8,16,32,64"`` (the stage parameter) or a sequence → the checked levels."""
    if isinstance(text, (int, np.integer)):
        text = [int(text)]
    if isinstance(text, str):
        try:
            text = [int(t) for t in text.replace(" ", "").split(",") if t]
        except ValueError:
            raise ValueError(f"atlas levels: comma-separated powers of two, got {text!r}") from None
    return check_levels(text)


def morton(ix: np.ndarray, iy: np.ndarray, bits: int) -> np.ndarray:
    """Z-order code of cells (ix, iy) of a 2**bits grid: x bits at even positions."""
    ix, iy = np.asarray(ix, np.int64), np.asarray(iy, np.int64)
    code = np.zeros(np.broadcast(ix, iy).shape, np.int64)
    for b in range(bits):
        code |= ((ix >> b) & 1) << (2 * b) | ((iy >> b) & 1) << (2 * b + 1)
    return code


def morton_range(n: int, finest: int, ix, iy) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi) of the finest-level Morton codes inside level-``n`` cells (ix, iy)."""
    shift = 2 * (int(np.log2(finest)) - int(np.log2(n)))
    lo = morton(ix, iy, int(np.log2(n))) << shift
    return lo, lo + (1 << shift)


def _coarsen(fine: np.ndarray, finest: int, n: int) -> np.ndarray:
    """Per-cell totals of level ``finest`` (rows iy * finest + ix, any trailing shape)
    added up into level ``n`` (rows iy * n + ix)."""
    f = finest // n
    tail = fine.shape[1:]
    return fine.reshape(n, f, n, f, *tail).sum(axis=(1, 3)).reshape(n * n, *tail)


def rows_per_chunk(n_features: int, budget: int = CHUNK_BYTES) -> int:
    return int(max(256, budget // max(1, 4 * n_features * 2)))


@dataclass
class AtlasGrid:
    cells: pd.DataFrame  # one row per non-empty (level, cell)
    means: np.ndarray  # (len(cells), C) float32: each cell's mean feature, in cells' order
    points: np.ndarray  # (N, len(POINT_COLUMNS)): every image in Morton order
    plane: Plane


def aggregate(x: np.ndarray, y: np.ndarray, features, labels: pd.DataFrame, n_classes: int,
              splits: Sequence[str], levels: Sequence[int] = LEVELS, chunk: int | None = None) -> AtlasGrid:
    """The atlas of N images: ``x``, ``y`` (N,) their UMAP coordinates; ``features`` (N, C),
    anything sliced as ``features[a:b]`` (a memory map, a zarr array); ``labels`` (N rows in
    row order): ``y_class``, ``pred`` (class indices), ``correct`` (bool), ``split``
    (strings of ``splits``) and ``p_pred``."""
    levels = check_levels(levels)
    finest, bits = levels[-1], int(np.log2(levels[-1]))
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n_rows = len(x)
    n_feat = int(features.shape[1])
    chunk = chunk or rows_per_chunk(n_feat)
    plane = Plane.around(x, y)
    fx, fy = plane.cells(x, y, finest)
    fine = fy * finest + fx  # finest-level cell of each row

    # pass 1: sums of features per finest cell
    sums = np.zeros((finest * finest, n_feat), np.float64)
    for a in range(0, n_rows, chunk):
        f = np.asarray(features[a:a + chunk], dtype=np.float32)
        c = fine[a:a + chunk]
        order = np.argsort(c, kind="stable")
        uniq, starts = np.unique(c[order], return_index=True)
        sums[uniq] += np.add.reduceat(f[order].astype(np.float64), starts, axis=0)

    cls = labels["y_class"].to_numpy(np.int64)
    pred = labels["pred"].to_numpy(np.int64)
    correct = labels["correct"].to_numpy(bool)
    split_idx = pd.Categorical(labels["split"].astype(str), categories=list(splits)).codes.astype(np.int64)
    n_fine = finest * finest
    fine_counts = np.bincount(fine, minlength=n_fine)
    fine_cls = np.bincount(fine * n_classes + cls, minlength=n_fine * n_classes).reshape(n_fine, n_classes)
    fine_pred = np.bincount(fine * n_classes + pred, minlength=n_fine * n_classes).reshape(n_fine, n_classes)
    fine_ok = np.bincount(fine, weights=correct, minlength=n_fine)
    ns = max(len(splits), 1)
    fine_split = np.bincount(fine * ns + np.clip(split_idx, 0, ns - 1), weights=split_idx >= 0,
                             minlength=n_fine * ns).reshape(n_fine, ns)

    per_level = {}
    for n in levels:
        counts = _coarsen(fine_counts, finest, n)
        means = _coarsen(sums, finest, n) / np.maximum(counts, 1)[:, None]
        per_level[n] = (counts, means.astype(np.float32))

    # pass 2: each row's distance to its cell's mean, per level; keep each cell's argmin
    best = {n: (np.full(n * n, np.inf), np.full(n * n, -1, np.int64)) for n in levels}
    for a in range(0, n_rows, chunk):
        f = np.asarray(features[a:a + chunk], dtype=np.float32)
        rows = np.arange(a, a + len(f))
        for n in levels:
            ix, iy = fx[a:a + chunk] // (finest // n), fy[a:a + chunk] // (finest // n)
            c = iy * n + ix
            d = ((f - per_level[n][1][c]) ** 2).sum(axis=1, dtype=np.float64)
            order = np.lexsort((rows, d, c))  # by cell, then distance, then row
            first = np.ones(len(order), bool)
            first[1:] = c[order][1:] != c[order][:-1]
            pick = order[first]
            bd, br = best[n]
            better = d[pick] < bd[c[pick]]
            bd[c[pick[better]]] = d[pick[better]]
            br[c[pick[better]]] = rows[pick[better]]

    # points in Morton order of their finest cell (then row)
    codes = morton(fx, fy, bits)
    order = np.lexsort((np.arange(n_rows), codes))
    sorted_codes = codes[order]
    position = np.empty(n_rows, np.int64)  # each row's index in the points
    position[order] = np.arange(n_rows)
    dtype = np.float32 if n_rows < 2 ** 24 else np.float64
    points = np.stack([x[order], y[order], order, cls[order], pred[order], correct[order],
                       split_idx[order], labels["p_pred"].to_numpy(np.float64)[order]], axis=1).astype(dtype)

    tables, mean_rows = [], []
    for n in levels:
        counts, means = per_level[n]
        keep = np.flatnonzero(counts)
        ix, iy = keep % n, keep // n
        x0, x1, y0, y1 = plane.bounds(n, ix, iy)
        lo, _ = morton_range(n, finest, ix, iy)
        cc = _coarsen(fine_cls, finest, n)[keep]
        pc = _coarsen(fine_pred, finest, n)[keep]
        sc = _coarsen(fine_split, finest, n)[keep]
        t = pd.DataFrame({
            "level": n, "ix": ix, "iy": iy, "x0": x0, "x1": x1, "y0": y0, "y1": y1,
            "count": counts[keep], "start": np.searchsorted(sorted_codes, lo),
            "typical": best[n][1][keep], "typical_pos": position[best[n][1][keep]],
            "typical_dist": np.sqrt(best[n][0][keep]),
            "majority": cc.argmax(axis=1), "majority_share": cc.max(axis=1) / counts[keep],
            "pred_majority": pc.argmax(axis=1),
            "accuracy": _coarsen(fine_ok, finest, n)[keep] / counts[keep],
        })
        for k in range(n_classes):
            t[f"n_class_{k}"] = cc[:, k]
        for k in range(n_classes):
            t[f"n_pred_{k}"] = pc[:, k]
        for j, s in enumerate(splits):
            t[f"n_split_{s}"] = sc[:, j].astype(np.int64)
        tables.append(t)
        mean_rows.append(means[keep])
    cells = pd.concat(tables, ignore_index=True)
    cells.insert(0, "cell", np.arange(len(cells)))
    return AtlasGrid(cells, np.concatenate(mean_rows).astype(np.float32), points, plane)


def class_shares(cells: pd.DataFrame, n_classes: int, kind: str = "class") -> np.ndarray:
    """(cells, classes) share of each true (``kind`` "class") or predicted ("pred") class."""
    counts = cells[[f"n_{kind}_{k}" for k in range(n_classes)]].to_numpy(np.float64)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
