"""Dataset-wide figures: the UMAP map of the images, mean Grad-CAM per class, the concept
atlas (concept × class heatmap, importance bars, concept cards) and error rates.

Pure functions (arrays / tables in, plotly or matplotlib figures or pictures out), shared
by the Atlas, Errors and Features pages and by export. Pictures (overlays, grids) and the
basic charts come from ``dashboard.figures.images`` and ``dashboard.figures.charts``.
"""

from __future__ import annotations

import html

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from analysis.explain.concepts.importance import importance_matrix
from dashboard.figures import charts, images

FONT = charts.FONT
SPLIT_COLORS = {"train": "#7f7f7f", "val": "#1f77b4", "test": "#ff7f0e"}
CORRECT_COLORS = {"correct": "#9aa5b1", "wrong": charts.COLORS["wrong"]}
COLOR_BY = {
    "class": "true city",
    "prediction": "predicted city",
    "correctness": "right / wrong",
    "split": "split",
    "group": "true group",
}


def hex_color(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in rgb[:3]))


def class_colors(classes: Sequence[str]) -> dict[str, str]:
    """One qualitative colour per class, in the run's class order (stable across pages)."""
    pal = [hex_color(c) for c in images.GROUP_COLORS]
    return {c: pal[i % len(pal)] for i, c in enumerate(classes)}


def _layout(fig: go.Figure, title: str | None, height: int, legend: bool = False) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15)) if title else None,
        height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), font=FONT,
        plot_bgcolor="white", paper_bgcolor="white", showlegend=legend,
    )
    fig.update_xaxes(automargin=True)  # room for tick labels, whatever their length
    fig.update_yaxes(automargin=True)
    return fig


# ------------------------------------------------------------------------------ UMAP
def color_scheme(color_by: str, keys: Sequence[str], classes: Sequence[str] | None = None,
                 groups: Sequence[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The legend order and the colour of each value of ``keys`` (the true or predicted
    city, "correct"/"wrong", the split or the group), the same on every map."""
    present = set(str(k) for k in keys)
    if color_by in ("class", "prediction"):
        order = list(classes or sorted(present))
        return order, class_colors(order)
    if color_by == "correctness":
        return ["correct", "wrong"], dict(CORRECT_COLORS)
    if color_by == "split":
        order = [s for s in SPLIT_COLORS if s in present] + sorted(present - set(SPLIT_COLORS))
        return order, {**{s: "#bcbd22" for s in order}, **SPLIT_COLORS}
    order = list(groups or sorted(present))
    return order, {g: hex_color(images.GROUP_COLORS[(i + 1) % 10]) for i, g in enumerate(order)}


UMAP_POINT_COLUMNS = ("row", "id", "class", "group", "split", "pred_class", "pred_group", "p_pred", "p_true",
                      "correct")
"""The samples columns a UMAP scatter shows (colours, hover, selection)."""


def umap_points(umap: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """The UMAP coordinates joined with each image's labels and predictions (by row)."""
    cols = [c for c in UMAP_POINT_COLUMNS if c in samples]
    return umap[["row", "x", "y"]].merge(samples[cols], on="row", how="left")


def umap_scatter(points: pd.DataFrame, color_by: str = "class", classes: Sequence[str] | None = None,
                 highlight: Sequence[int] = (), title: str | None = None, height: int = 560,
                 marker_size: int = 6, webgl_above: int = 5000) -> go.Figure:
    """The images as points of the UMAP of their pooled features, one trace per colour
    (class, prediction, right/wrong, split or group), so the legend toggles them.

    ``customdata`` of every point is ``[row, id]`` (a selection tells which images were
    picked); ``highlight`` rows get a black ring. Wrong predictions are drawn as crosses
    when colouring by correctness. Above ``webgl_above`` points the markers are WebGL
    (fast for tens of thousands); below, SVG (crisper static export). Drag zooms; a click
    selects a point; the toolbar's lasso / box select regions.
    """
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {', '.join(COLOR_BY)}, got {color_by!r}")
    pts = points.copy()
    if color_by == "correctness":
        key = pd.Series(np.where(pts["correct"].astype(bool), "correct", "wrong"), index=pts.index)
    else:
        key = pts[{"class": "class", "prediction": "pred_class", "split": "split", "group": "group"}[color_by]]
        key = key.astype(str)
    order, colors = color_scheme(color_by, key, classes)
    fig = go.Figure()
    scatter = go.Scattergl if len(pts) > webgl_above else go.Scatter
    hover = ("%{customdata[1]}<br>true <b>%{customdata[2]}</b> · predicted <b>%{customdata[3]}</b>"
             " (%{customdata[4]:.0%})<br>%{customdata[5]}<extra></extra>")
    for name in order:
        sub = pts[key.to_numpy() == name]
        if sub.empty:
            continue
        wrong = color_by == "correctness" and name == "wrong"
        fig.add_trace(scatter(
            x=sub["x"], y=sub["y"], mode="markers", name=f"{name} ({len(sub)})",
            marker=dict(color=colors.get(name, "#888888"), size=marker_size + (3 if wrong else 0),
                        symbol="x" if wrong else "circle", opacity=0.85,
                        line=dict(width=0)),
            customdata=np.stack([sub["row"].to_numpy(), sub["id"].astype(str).to_numpy(),
                                 sub["class"].astype(str).to_numpy(),
                                 sub["pred_class"].astype(str).to_numpy(),
                                 sub["p_pred"].to_numpy(), sub["split"].astype(str).to_numpy()],
                                axis=1).tolist(),
            hovertemplate=hover,
        ))
    hl = pts[pts["row"].isin(list(highlight))]
    if len(hl):
        fig.add_trace(scatter(
            x=hl["x"], y=hl["y"], mode="markers", name="selected", hoverinfo="skip",
            marker=dict(size=marker_size + 8, color="rgba(0,0,0,0)", line=dict(width=2, color="black")),
        ))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    _layout(fig, title, height, legend=True)
    fig.update_layout(legend=dict(title=COLOR_BY[color_by], itemsizing="constant"),
                      dragmode="zoom", clickmode="event+select")
    return fig


# ---------------------------------------------------------------------- mean Grad-CAM
def mean_cam_grid(maps: np.ndarray, classes: Sequence[str], counts: Sequence[int] | None = None,
                  backgrounds: Sequence | None = None, ncols: int = 5, cell: int = 192,
                  opacity: float = 0.55, cmap: str = images.DEFAULT_CMAP) -> Image.Image:
    """Small multiples: each class's mean Grad-CAM over its mean photo (or over grey),
    captioned with the class and how many images were averaged."""
    tiles, captions = [], []
    for k, cls in enumerate(classes):
        bg = backgrounds[k] if backgrounds is not None else np.full((cell, cell, 3), 128, np.uint8)
        bg = np.asarray(images.fit_square(bg, cell))
        tiles.append(images.overlay(bg, maps[k], opacity=opacity, cmap=cmap))
        captions.append(f"{cls} (n={int(counts[k])})" if counts is not None else str(cls))
    return images.image_grid(tiles, ncols=min(ncols, max(1, len(tiles))), cell=cell, pad=6,
                             captions=captions)


# --------------------------------------------------------------------------- concepts
def concept_class_heatmap(importance: pd.DataFrame, head: str = "city",
                          targets: Sequence[str] | None = None, title: str | None = None,
                          height: int | None = None, selected: int | None = None,
                          names: Mapping[int, str] | None = None) -> go.Figure:
    """Concepts (rows) × classes (columns) of CRAFT importance, diverging colours
    centred on 0 (red: the concept pushes the class's logit up), values written in the
    cells. ``customdata`` is ``[concept, target]`` (clicking a cell picks its concept);
    ``selected`` outlines one concept's row; ``names`` labels the rows "k · name"
    (escaped: plotly reads HTML in labels)."""
    m = importance_matrix(importance, head, targets)
    z = m.to_numpy(dtype=float)
    vmax = float(np.nanmax(np.abs(z))) if z.size and np.isfinite(z).any() else 1.0
    vmax = vmax or 1.0
    ylabels = [f"{int(k)} · {html.escape(names[int(k)])}" if names and int(k) in names
               and names[int(k)] != f"concept {int(k)}" else f"concept {int(k)}" for k in m.index]
    custom = [[[int(k), str(t)] for t in m.columns] for k in m.index]
    text = [[("" if not np.isfinite(v) else f"{v:+.2f}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=z, x=[str(c) for c in m.columns], y=ylabels, customdata=custom, text=text,
        texttemplate="%{text}", textfont=dict(size=10), colorscale="RdBu_r", zmid=0,
        zmin=-vmax, zmax=vmax, xgap=1, ygap=1,
        hovertemplate="%{y} → %{x}<br>importance %{z:+.3f}<extra></extra>",
        colorbar=dict(title=dict(text="importance", side="right"), thickness=12, len=0.9),
    ))
    # invisible markers on every cell: clicking selects a point (heatmaps alone do not)
    xs, ys, cd = [], [], []
    for i, k in enumerate(m.index):
        for j, t in enumerate(m.columns):
            xs.append(str(t))
            ys.append(ylabels[i])
            cd.append([int(k), str(t), z[i, j]])
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers", customdata=cd, showlegend=False,
        marker=dict(size=18, color="rgba(0,0,0,0.004)", symbol="square"),
        hovertemplate="%{y} → %{x}<br>importance %{customdata[2]:+.3f}<extra></extra>",
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1)),
    ))
    if selected is not None and selected in list(m.index):
        i = list(m.index).index(selected)
        fig.add_shape(type="rect", xref="paper", x0=0, x1=1, yref="y", y0=i - 0.5, y1=i + 0.5,
                      line=dict(color="black", width=2))
    fig.update_yaxes(autorange="reversed", showgrid=False, ticksuffix=" ")
    fig.update_xaxes(showgrid=False, tickangle=-45 if len(m.columns) > 4 else 0, side="bottom")
    _layout(fig, title, height or max(260, 110 + 28 * len(m.index)))
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig


def concept_bars(importance: pd.DataFrame, concept: int, head: str = "city",
                 targets: Sequence[str] | None = None, title: str | None = None,
                 height: int | None = None) -> go.Figure:
    """One concept's importance for every class of a head (highest first)."""
    sub = importance[(importance["head"] == head) & (importance["concept"] == concept)]
    if targets is not None:
        sub = sub[sub["target"].isin(list(targets))]
    sub = sub.sort_values("importance", ascending=False)
    fig = charts.attribution_bars(sub["importance"].to_numpy(), sub["target"].tolist(),
                                  title=title, xaxis_title="importance", value_format="+.2f",
                                  height=height)
    fig.update_yaxes(automargin=True)
    return fig


@dataclass
class ConceptCard:
    """What one concept card shows: its number and name, its feature visualisation,
    its top patches and its importance per class."""

    concept: int
    name: str
    featvis: Image.Image | None
    patches: list[Image.Image] = field(default_factory=list)
    importance: Mapping[str, float] = field(default_factory=dict)


def concept_cards_figure(cards: Sequence[ConceptCard], n_patches: int = 6, top_classes: int = 5):
    """Concept cards for a slide (matplotlib, one row per concept): the feature
    visualisation, the top image patches, and bars of the concept's importance for its
    ``top_classes`` classes of largest |importance|."""
    from matplotlib.figure import Figure

    n = max(len(cards), 1)
    row_h = 1.9
    fig = Figure(figsize=(13.33, 0.5 + row_h * n))
    top_margin = 0.35 / (0.5 + row_h * n)
    height = (1 - top_margin - 0.02) / n
    for i, card in enumerate(cards):
        y0 = 1 - top_margin - (i + 1) * height
        fig.text(0.01, y0 + height * 0.98, card.name, fontsize=12, weight="bold", va="top")
        ax = fig.add_axes((0.01, y0 + 0.05 * height, 0.11, height * 0.78))
        ax.axis("off")
        img = card.featvis if card.featvis is not None else images.placeholder_icon(96, "no vis")
        ax.imshow(np.asarray(img.convert("RGB")))
        patches = list(card.patches[:n_patches])
        if patches:
            strip = images.thumbnail_strip(patches, size=96, pad=4)
            ax = fig.add_axes((0.13, y0 + 0.05 * height, 0.50, height * 0.78))
            ax.axis("off")
            ax.imshow(np.asarray(strip))
            ax.set_anchor("W")
        ax = fig.add_axes((0.72, y0 + 0.12 * height, 0.25, height * 0.72))
        items = sorted(card.importance.items(), key=lambda kv: -abs(kv[1]))[:top_classes]
        items = sorted(items, key=lambda kv: kv[1])
        if items:
            vals = [v for _, v in items]
            ax.barh([k for k, _ in items], vals,
                    color=[charts.COLORS["positive"] if v >= 0 else charts.COLORS["negative"] for v in vals])
            ax.axvline(0, color="#999999", linewidth=0.8)
            for s in ("top", "right"):
                ax.spines[s].set_visible(False)
            ax.tick_params(labelsize=9)
            ax.set_xlabel("importance", fontsize=9)
    return fig


# ------------------------------------------------------------------------------ errors
SPLITS = ("all", "train", "val", "test")


def error_rate_bars(rates: pd.DataFrame, head: str = "city", title: str | None = None,
                    height: int | None = None) -> go.Figure:
    """Bars of the error rate per class (worst first), labelled "12 % (3/25)"."""
    r = rates.sort_values("error_rate", ascending=False, na_position="last")
    fig = go.Figure(go.Bar(
        x=r["error_rate"].fillna(0), y=r[head].astype(str), orientation="h",
        marker_color=[charts.COLORS["wrong"] if e > 0 else charts.COLORS["other"]
                      for e in r["errors"]],
        text=(labels := [f"{v:.0%} ({e:,}/{n:,})" if n else "no images"
                         for v, e, n in zip(r["error_rate"].fillna(0), r["errors"], r["images"])]),
        textposition="outside", cliponaxis=False,
        customdata=r[["errors", "images"]].to_numpy(),
        hovertemplate="%{y}: %{x:.1%} wrong (%{customdata[0]} of %{customdata[1]})<extra></extra>",
    ))
    top = float(r["error_rate"].max()) if r["error_rate"].notna().any() else 0.0
    # room right of the longest bar for its label (about 4 % of the bar's length per character):
    # "38% (11,393/30,000)" at a million images was cut off by the 35 % of short labels
    room = max(1.35, 1 + 0.04 * max((len(t) for t in labels), default=0))
    fig.update_xaxes(range=[0, max(0.1, top * room)], tickformat=".0%", showgrid=True,
                     gridcolor="#eee", title_text="error rate", automargin=True)
    fig.update_yaxes(autorange="reversed", showgrid=False, ticksuffix="  ", automargin=True)
    return _layout(fig, title, height or 90 + 26 * len(r))


def clickable_cells(fig: go.Figure, labels: Sequence[str], counts: np.ndarray) -> go.Figure:
    """Add invisible markers on every cell of a confusion-matrix heatmap
    (``charts.confusion_matrix``) so that a click selects a point: ``customdata`` is
    ``[true index, predicted index, count]``. Returns the same figure."""
    labels = [str(x) for x in labels]
    n = len(labels)
    xs, ys, cd = [], [], []
    for i in range(n):
        for j in range(n):
            xs.append(labels[j])
            ys.append(labels[i])
            cd.append([i, j, int(counts[i, j])])
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers", customdata=cd, showlegend=False,
        marker=dict(size=max(12, min(40, 300 // max(n, 1))), color="rgba(0,0,0,0.004)", symbol="square"),
        hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata[2]} images — click to list"
                      "<extra></extra>",
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1)),
    ))
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig
