"""The activation atlas as the Atlas page reads it: a few thousand cell rows, the images of
one cell or of a region (slices of the Morton-ordered points), a cell's mean activation and
the sample rows of a handful of images — never a whole per-image array or table.

Everything goes through :class:`~analysis.store.RunCache`'s accessors with plain
indexing (``arr[a:b]``, ``arr[int_array]``), whatever stores the arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.explain.atlas_grid import POINT_COLUMNS, Plane
from analysis.precompute.stages import atlas as _stage  # noqa: F401  (declares the atlas artefacts)
from analysis.store import RunCache

Window = tuple[float, float, float, float]  # x0, x1, y0, y1
ACROSS = 8  # a zoomed view shows at least this many cells across its window


def has_atlas(cache: RunCache) -> bool:
    return cache.has("atlas_cells") and cache.has("atlas_points")


def levels(cells: pd.DataFrame) -> list[int]:
    return sorted(int(n) for n in cells["level"].unique())


def plane(cells: pd.DataFrame) -> Plane:
    """The square the grid covers (from any cell: its bounds and index)."""
    r = cells.iloc[0]
    w = float(r["x1"] - r["x0"])
    return Plane(float(r["x0"] - r["ix"] * w), float(r["y0"] - r["iy"] * w), w * int(r["level"]))


def whole(cells: pd.DataFrame) -> Window:
    p = plane(cells)
    return (p.x0, p.x0 + p.side, p.y0, p.y0 + p.side)


def in_window(cells: pd.DataFrame, window: Window | None) -> np.ndarray:
    """Which cells intersect ``window`` (all when None)."""
    if window is None:
        return np.ones(len(cells), bool)
    x0, x1, y0, y1 = window
    return ((cells["x1"] > x0) & (cells["x0"] < x1) & (cells["y1"] > y0) & (cells["y0"] < y1)).to_numpy()


def visible(cells: pd.DataFrame, level: int, window: Window | None) -> pd.DataFrame:
    sub = cells[cells["level"] == level]
    return sub[in_window(sub, window)]


def zoom_level(cells: pd.DataFrame, window: Window, across: int = ACROSS) -> int | None:
    """The coarsest level that shows ``window`` at least ``across`` cells wide; None when
    even the finest does not (the view then shows single images)."""
    side = plane(cells).side
    width = max(window[1] - window[0], window[3] - window[2])
    for n in levels(cells):
        if width / side * n >= across:
            return n
    return None


def bounds_of(cells: pd.DataFrame) -> Window:
    """The window around ``cells`` (e.g. those a user selected)."""
    return (float(cells["x0"].min()), float(cells["x1"].max()), float(cells["y0"].min()), float(cells["y1"].max()))


def _ranges(cells: pd.DataFrame, window: Window | None) -> list[tuple[int, int]]:
    """The slices of the points that hold the finest cells in ``window``, adjacent ones merged."""
    fine = visible(cells, levels(cells)[-1], window).sort_values("start")
    out: list[list[int]] = []
    for a, n in zip(fine["start"].to_numpy(np.int64), fine["count"].to_numpy(np.int64)):
        if out and out[-1][1] == a:
            out[-1][1] = a + n
        else:
            out.append([int(a), int(a + n)])
    return [(a, b) for a, b in out]


def _frame(values: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame(np.asarray(values, np.float64).reshape(-1, len(POINT_COLUMNS)), columns=list(POINT_COLUMNS))
    for c in ("row", "class", "pred", "split"):
        df[c] = df[c].astype(np.int64)
    df["correct"] = df["correct"].astype(bool)
    return df


@dataclass
class Region:
    points: pd.DataFrame  # columns POINT_COLUMNS, at most the cap
    total: int  # images in the region (the points may be a sample of them)

    @property
    def sampled(self) -> bool:
        return self.total > len(self.points)


def region_points(cache: RunCache, cells: pd.DataFrame, window: Window | None, cap: int,
                  seed: int = 0) -> Region:
    """The images inside ``window`` (all when None; its edges included, up to rounding): at most ``cap`` of them, a seeded
    uniform sample when there are more. Reads only the slices of the region's cells (or,
    when sampling, only the sampled rows)."""
    if window is not None:
        # widened by a hair: the plane's corner, rebuilt from a cell's edges, can sit a rounding
        # error inside the extreme image, and a point a rounding error short of a cell's edge can
        # be binned into the next cell (the grid divides, the edges multiply)
        pad = plane(cells).side * 1e-9
        window = (window[0] - pad, window[1] + pad, window[2] - pad, window[3] + pad)
    ranges = _ranges(cells, window)
    arr = cache.array("atlas_points")
    sizes = np.array([b - a for a, b in ranges], np.int64)
    in_cells = int(sizes.sum())
    if in_cells > 2 * cap:  # read a sample of the rows, not every one
        pos = np.sort(np.random.default_rng(seed).choice(in_cells, size=2 * cap, replace=False))
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        which = np.searchsorted(offsets, pos, side="right") - 1
        idx = np.array([a for a, _ in ranges], np.int64)[which] + (pos - offsets[which])
        pts = _frame(arr[idx])
    else:
        pts = _frame(np.concatenate([np.asarray(arr[a:b]) for a, b in ranges]) if ranges
                     else np.zeros((0, len(POINT_COLUMNS))))
    if window is not None:
        x0, x1, y0, y1 = window
        pts = pts[(pts["x"] >= x0) & (pts["x"] <= x1) & (pts["y"] >= y0) & (pts["y"] <= y1)]
    total = len(pts) if in_cells <= 2 * cap else int(round(len(pts) / (2 * cap) * in_cells))
    if len(pts) > cap:
        pts = pts.iloc[np.sort(np.random.default_rng(seed + 1).choice(len(pts), cap, replace=False))]
    return Region(pts.reset_index(drop=True), max(total, len(pts)))


def cell_points(cache: RunCache, cell: pd.Series | dict, limit: int) -> pd.DataFrame:
    """Up to ``limit`` images of one cell, spread evenly over it (its typical image first)."""
    start, count = int(cell["start"]), int(cell["count"])
    typical = int(cell["typical_pos"])
    spread = np.linspace(start, start + count - 1, min(count, limit)).round().astype(np.int64)
    idx = np.array([typical, *[i for i in np.unique(spread) if i != typical]], np.int64)[:max(limit, 1)]
    return _frame(cache.array("atlas_points")[idx])


def cells_points(cache: RunCache, cells: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Up to ``limit`` images of several cells (each cell its share, typical images first)."""
    if cells.empty:
        return _frame(np.zeros((0, len(POINT_COLUMNS))))
    share = max(1, limit // len(cells))
    parts = [cell_points(cache, r, share) for _, r in cells.sort_values("count", ascending=False).iterrows()]
    return pd.concat(parts, ignore_index=True).head(limit)


def cell_direction(cache: RunCache, cell: int) -> np.ndarray:
    """Cell ``cell``'s mean pooled feature (its mean activation direction)."""
    return np.array(cache.array("atlas_means")[int(cell)], dtype=np.float32)  # a writable copy


def sample_rows(cache: RunCache, rows: Sequence[int], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``samples`` rows of images ``rows`` (in that order), reading only those rows."""
    rows = [int(r) for r in rows]
    if not rows:
        return cache.table("samples").head(0)
    wanted = None if columns is None else list(dict.fromkeys(["row", *columns]))
    df = pd.read_parquet(cache.path("samples"), columns=wanted, filters=[("row", "in", rows)])
    return df.set_index("row").loc[[r for r in rows if r in set(df["row"])]].reset_index()
