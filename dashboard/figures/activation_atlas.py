"""The activation atlas (Carter et al., Distill 2019) of a run: the UMAP plane as a grid of
cells, each drawn by the thumbnail of its most typical image (or a colour), with its count
and class mix on hover — and, zoomed in far enough, the single images as WebGL points.

Pure functions: cell rows (``atlas_cells``), points and pictures in; a PIL mosaic or a
plotly figure out. However many images the run has, a figure holds one raster, one
marker per visible cell (a few thousand at most) and at most the capped number of points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image, ImageOps

from dashboard.figures import atlas

Window = tuple[float, float, float, float]
MOSAIC_PX = 1024  # the mosaic's longer side at most
TILE_MAX = 96
INVISIBLE = "rgba(0,0,0,0.004)"  # hoverable and clickable, not seen
SVG_CELLS = 4096  # cell markers drawn as SVG up to this many (a 64 × 64 grid), WebGL beyond


# ------------------------------------------------------------------------ colours
def cell_keys(cells: pd.DataFrame, color_by: str, classes: Sequence[str], splits: Sequence[str] = (),
              class_to_group: Mapping[str, str] | None = None) -> tuple[list[str], np.ndarray]:
    """Each cell's colour key (its majority true / predicted city, split or group; for
    "correctness": "correct" when most of its images are right) and how dominant it is
    (share of the cell's images, for correctness the accuracy or error rate)."""
    n = len(cells)
    if n == 0:
        return [], np.zeros(0)
    if color_by in ("class", "prediction"):
        col = "majority" if color_by == "class" else "pred_majority"
        prefix = "n_class_" if color_by == "class" else "n_pred_"
        counts = cells[[f"{prefix}{k}" for k in range(len(classes))]].to_numpy(np.float64)
        keys = [str(classes[int(k)]) for k in cells[col]]
        return keys, counts.max(axis=1) / np.maximum(counts.sum(axis=1), 1)
    if color_by == "correctness":
        acc = cells["accuracy"].to_numpy(np.float64)
        return ["correct" if a >= 0.5 else "wrong" for a in acc], np.where(acc >= 0.5, acc, 1 - acc)
    if color_by == "split":
        counts = cells[[f"n_split_{s}" for s in splits]].to_numpy(np.float64)
        return [str(splits[int(k)]) for k in counts.argmax(axis=1)], \
            counts.max(axis=1) / np.maximum(counts.sum(axis=1), 1)
    groups = sorted(set((class_to_group or {}).values()))
    by_group = np.zeros((n, max(len(groups), 1)))
    for k, c in enumerate(classes):
        g = (class_to_group or {}).get(c)
        if g in groups:
            by_group[:, groups.index(g)] += cells[f"n_class_{k}"].to_numpy(np.float64)
    return [groups[int(k)] if groups else "?" for k in by_group.argmax(axis=1)], \
        by_group.max(axis=1) / np.maximum(by_group.sum(axis=1), 1)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


# ------------------------------------------------------------------------- mosaic
def tile_size(cols: int, rows: int, max_px: int = MOSAIC_PX) -> int:
    return int(max(4, min(TILE_MAX, max_px // max(cols, rows, 1))))


def grid_span(cells: pd.DataFrame, window: Window) -> tuple[int, int, int, int, float]:
    """(ix0, iy0, cols, rows, cell width) of the level's cells that tile ``window``."""
    w = float(cells["x1"].iloc[0] - cells["x0"].iloc[0])
    r = cells.iloc[0]
    px0, py0 = float(r["x0"] - r["ix"] * w), float(r["y0"] - r["iy"] * w)
    ix0, iy0 = int(np.floor((window[0] - px0) / w + 1e-9)), int(np.floor((window[2] - py0) / w + 1e-9))
    ix1, iy1 = int(np.ceil((window[1] - px0) / w - 1e-9)), int(np.ceil((window[3] - py0) / w - 1e-9))
    return ix0, iy0, max(ix1 - ix0, 1), max(iy1 - iy0, 1), w


def mosaic(cells: pd.DataFrame, window: Window, colors: Sequence[str], shares: Sequence[float],
           thumbs: Mapping[int, Image.Image | None] | None = None, max_px: int = MOSAIC_PX) -> Image.Image:
    """One picture of the visible ``cells`` of one level over ``window`` (aligned to their
    grid): each cell its typical image (``thumbs``: cell id → picture) framed in its colour,
    or — without a picture — a square of its colour, paler the less dominant it is. Empty
    cells stay white. North is up (y grows upwards on the map, downwards in a picture)."""
    ix0, iy0, cols, rows, _ = grid_span(cells, window)
    tile = tile_size(cols, rows, max_px)
    out = Image.new("RGB", (cols * tile, rows * tile), "white")
    frame = max(1, tile // 16)
    for (cell, ix, iy), colour, share in zip(cells[["cell", "ix", "iy"]].itertuples(index=False, name=None),
                                             colors, shares):
        left, top = (int(ix) - ix0) * tile, (iy0 + rows - 1 - int(iy)) * tile
        if not (0 <= left < out.width and 0 <= top < out.height):
            continue
        rgb = _rgb(colour)
        pic = (thumbs or {}).get(int(cell))
        if pic is None:
            a = 0.25 + 0.75 * float(share)
            out.paste(tuple(int(255 - a * (255 - v)) for v in rgb), (left + 1, top + 1, left + tile - 1, top + tile - 1))
            continue
        out.paste(rgb, (left, top, left + tile, top + tile))
        inner = tile - 2 * frame
        if inner > 0:
            out.paste(ImageOps.fit(pic.convert("RGB"), (inner, inner), Image.Resampling.BILINEAR),
                      (left + frame, top + frame))
    return out


def jpeg_uri(picture: Image.Image, quality: int = 88) -> str:
    """The mosaic as a JPEG data URI. Plotly would embed a PIL picture as PNG: 400–620 KB of
    the atlas figure's 0.5–0.7 MB at a million images, which every zoom sends to the browser
    to parse and decode; the photos in it compress several times better as JPEG."""
    import base64
    import io

    buf = io.BytesIO()
    picture.convert("RGB").save(buf, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ------------------------------------------------------------------------- figures
def _mix(row: Mapping, classes: Sequence[str], top: int = 3) -> str:
    counts = np.array([row[f"n_class_{k}"] for k in range(len(classes))], np.float64)
    order = np.argsort(-counts, kind="stable")[:top]
    total = max(counts.sum(), 1)
    return ", ".join(f"{classes[k]} {counts[k] / total:.0%}" for k in order if counts[k] > 0)


def cell_hover(cells: pd.DataFrame, classes: Sequence[str]) -> list[str]:
    """One line per cell: its images, class mix (top 3) and accuracy."""
    return [f"<b>{int(r['count'])} image{'s' if r['count'] != 1 else ''}</b> · {_mix(r, classes)}"
            f"<br>{r['accuracy']:.0%} classified right · typical image {r['typical_id']}"
            for r in cells.to_dict("records")]


def _frame_axes(fig: go.Figure, window: Window, title: str | None, height: int) -> go.Figure:
    fig.update_xaxes(range=[window[0], window[1]], visible=False, constrain="domain")
    fig.update_yaxes(range=[window[2], window[3]], visible=False, scaleanchor="x", scaleratio=1,
                     constrain="domain")
    fig.update_layout(title=dict(text=title, x=0, xanchor="left", font=dict(size=15)) if title else None,
                      height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), font=atlas.FONT,
                      plot_bgcolor="white", paper_bgcolor="white", showlegend=True,
                      legend=dict(itemsizing="constant"), dragmode="zoom", clickmode="event+select")
    return fig


def atlas_figure(cells: pd.DataFrame, window: Window, picture: Image.Image | None, colors: Sequence[str],
                 legend: Mapping[str, str], classes: Sequence[str], legend_title: str = "",
                 title: str | None = None, height: int = 640) -> go.Figure:
    """The cells of one level over ``window``: ``picture`` (:func:`mosaic`) under the plot,
    one invisible marker per cell (SVG up to ``SVG_CELLS``, WebGL beyond; hover: count, class
    mix, accuracy; ``customdata`` ``[cell, level, ix, iy, count]`` for clicks and box
    selections) and a legend of ``legend`` (key → colour)."""
    fig = go.Figure()
    if picture is not None and len(cells):
        ix0, iy0, cols, rows, w = grid_span(cells, window)
        r = cells.iloc[0]
        px0, py0 = float(r["x0"] - r["ix"] * w), float(r["y0"] - r["iy"] * w)
        fig.add_layout_image(source=jpeg_uri(picture), xref="x", yref="y", x=px0 + ix0 * w, y=py0 + (iy0 + rows) * w,
                             sizex=cols * w, sizey=rows * w, sizing="stretch", layer="below")
    across = max(1.0, (window[1] - window[0]) / max(float(cells["x1"].iloc[0] - cells["x0"].iloc[0]), 1e-12)) \
        if len(cells) else 1.0
    # SVG markers up to a 64 × 64 grid: the picture underneath is the raster; WebGL for a
    # few thousand invisible markers only cost the browser its context (1-2 s of a first
    # visit in headless Chromium)
    scatter = go.Scattergl if len(cells) > SVG_CELLS else go.Scatter
    fig.add_trace(scatter(
        x=(cells["x0"] + cells["x1"]) / 2, y=(cells["y0"] + cells["y1"]) / 2, mode="markers",
        name="cells", showlegend=False, text=cell_hover(cells, classes),
        customdata=cells[["cell", "level", "ix", "iy", "count"]].to_numpy(np.int64).tolist(),
        marker=dict(symbol="square", size=max(4.0, (height - 60) / across * 0.95), color=INVISIBLE,
                    line=dict(width=0)),
        selected=dict(marker=dict(color="rgba(0,0,0,0.25)")), unselected=dict(marker=dict(opacity=1)),
        hovertemplate="%{text}<extra></extra>",
    ))
    for key, colour in legend.items():  # legend entries only
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=key, hoverinfo="skip",
                                 marker=dict(symbol="square", size=10, color=colour)))
    _frame_axes(fig, window, title, height)
    fig.update_layout(legend=dict(title=legend_title))
    return fig


def point_keys(points: pd.DataFrame, color_by: str, classes: Sequence[str], splits: Sequence[str],
               class_to_group: Mapping[str, str] | None = None) -> pd.Series:
    """Each point's colour key (true or predicted city, correct/wrong, split, group)."""
    if color_by == "correctness":
        return pd.Series(np.where(points["correct"], "correct", "wrong"), index=points.index)
    if color_by == "split":
        return points["split"].map(lambda k: splits[k] if 0 <= k < len(splits) else "?")
    names = points["pred" if color_by == "prediction" else "class"].map(lambda k: classes[int(k)])
    return names.map(lambda c: (class_to_group or {}).get(c, "?")) if color_by == "group" else names


def points_figure(points: pd.DataFrame, keys: pd.Series, order: Sequence[str], colors: Mapping[str, str],
                  classes: Sequence[str], splits: Sequence[str], window: Window, bins: pd.DataFrame | None = None,
                  legend_title: str = "", title: str | None = None, height: int = 640,
                  marker_size: int = 6) -> go.Figure:
    """Single images as WebGL points (one trace per colour key, so the legend toggles them;
    ``customdata`` ``[row, true, predicted, confidence, split]`` as numbers (class and split
    indices); wrong predictions as
    crosses when colouring by correctness). ``bins`` (cells of the finest level, drawn
    as grey squares darker with more images) show where the images are when ``points``
    is a sample of them."""
    fig = go.Figure()
    if bins is not None and len(bins):
        ix0, iy0, cols, rows, w = grid_span(bins, window)
        z = np.full((rows, cols), np.nan)
        ix, iy = bins["ix"].to_numpy() - ix0, bins["iy"].to_numpy() - iy0
        ok = (ix >= 0) & (ix < cols) & (iy >= 0) & (iy < rows)
        z[iy[ok], ix[ok]] = np.log10(bins["count"].to_numpy()[ok] + 1)
        r = bins.iloc[0]
        px0, py0 = float(r["x0"] - r["ix"] * w), float(r["y0"] - r["iy"] * w)
        fig.add_trace(go.Heatmap(
            z=z, x0=px0 + (ix0 + 0.5) * w, dx=w, y0=py0 + (iy0 + 0.5) * w, dy=w, showscale=False,
            colorscale=[[0, "#f2f2f2"], [1, "#8c8c8c"]], hoverinfo="skip", name="bins", xgap=1, ygap=1))
    for name in order:
        sub = points[(keys == name).to_numpy()]
        if sub.empty:
            continue
        wrong = name == "wrong"
        fig.add_trace(go.Scattergl(
            x=sub["x"], y=sub["y"], mode="markers", name=f"{name} ({len(sub)})",
            marker=dict(color=colors.get(name, "#888888"), size=marker_size + (3 if wrong else 0),
                        symbol="x" if wrong else "circle", opacity=0.85, line=dict(width=0)),
            # numbers only: sent as one typed array, not a list per point (20,000 points: 10× faster)
            customdata=np.stack([sub["row"].to_numpy(np.float64), sub["class"].to_numpy(np.float64),
                                 sub["pred"].to_numpy(np.float64), sub["p_pred"].to_numpy(np.float64),
                                 sub["split"].to_numpy(np.float64)], axis=1),
            hovertemplate="image row %{customdata[0]} · confidence %{customdata[3]:.0%}"
                          "<extra>%{fullData.name}</extra>",
        ))
    _frame_axes(fig, window, title, height)
    fig.update_layout(legend=dict(title=legend_title))
    return fig
