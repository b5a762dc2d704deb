"""Charts: pure functions returning plotly figures (or a pandas Styler for the runs table).
No Streamlit calls; export writes the same figures to PNG / SVG / PDF.

Colours: one blue for "the model's choice", green for the true class, red for a wrong
prediction, grey for the rest (``COLORS``); sequential ``Blues`` for confusion matrices.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

COLORS = {
    "pred": "#1f77b4",      # the model's choice (when right)
    "true": "#2ca02c",      # the true class
    "wrong": "#d62728",     # the model's choice when wrong
    "other": "#b8bec6",     # every other class
    "positive": "#d62728",  # attribution for the target
    "negative": "#1f77b4",  # attribution against it
    "train": "#7f7f7f",
    "val": "#1f77b4",
    "group": "#ff7f0e",
    "best": "#2ca02c",
}
FONT = dict(family="Source Sans Pro, Helvetica, Arial, sans-serif", size=13)


def _base_layout(fig: go.Figure, title: str | None, height: int,
                 margin: dict | None = None) -> go.Figure:
    m = dict(l=60, r=20, t=48 if title else 24, b=40)
    m.update(margin or {})
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15)) if title else None,
        height=height, margin=m,
        font=FONT, plot_bgcolor="white", paper_bgcolor="white", showlegend=False,
    )
    return fig


# --------------------------------------------------------------------- prediction bars
def _prediction_order(probs, labels, true, top):
    """(probabilities, class order, bar names, bar colours) shared by the plotly and the
    HTML prediction bars: highest first; ``top`` kept, always with the true class."""
    p = np.asarray(probs, dtype=float).ravel()
    labels = [str(x) for x in labels]
    if len(p) != len(labels):
        raise ValueError(f"{len(p)} probabilities for {len(labels)} labels")
    true_i = labels.index(true) if isinstance(true, str) else true
    order = list(np.argsort(-p, kind="stable"))
    if top is not None and top < len(order):
        keep = order[:top]
        if true_i is not None and true_i not in keep:
            keep = keep[:-1] + [true_i] if top > 1 else [true_i]
        order = sorted(keep, key=lambda i: -p[i])
    pred_i = int(np.argmax(p)) if len(p) else None
    colors, names = [], []
    for i in order:
        if i == pred_i:
            colors.append(COLORS["pred"] if (true_i is None or i == true_i) else COLORS["wrong"])
        elif i == true_i:
            colors.append(COLORS["true"])
        else:
            colors.append(COLORS["other"])
        names.append(f"{labels[i]}  ✓ true" if i == true_i else labels[i])
    return p, order, names, colors


def html_prediction_bars(probs: Sequence[float], labels: Sequence[str], true: str | int | None = None,
                         top: int | None = None, title: str | None = None, width_px: int = 150) -> str:
    """:func:`prediction_bars` as a small HTML table: same order, colours, "✓ true" mark
    and percentages. For the Sample page, which redraws its bars on every image change:
    in headless Chromium two plotly charts there cost ~0.15 s of browser main-thread
    time per change (``benchmarks/bench_dashboard.py``), this table next to nothing."""
    from html import escape

    p, order, names, colors = _prediction_order(probs, labels, true, top)
    rows = "".join(
        f'<tr><td style="padding:0 8px 0 0;text-align:right;white-space:nowrap">{escape(n)}</td>'
        f'<td style="padding:1px 0;width:{width_px}px"><div style="width:{round(width_px * float(p[i]))}px;'
        f'height:14px;background:{c}"></div></td>'
        f'<td style="padding:0 0 0 6px;white-space:nowrap">{p[i]:.1%}</td></tr>'
        for i, n, c in zip(order, names, colors))
    head = f'<div style="font-weight:600;margin-bottom:2px">{escape(title)}</div>' if title else ""
    return (head + '<table style="border:none;border-collapse:collapse;font-size:0.85em;'
            'line-height:1.35">' + rows + "</table>")


def prediction_bars(probs: Sequence[float], labels: Sequence[str], true: str | int | None = None,
                    top: int | None = None, title: str | None = None, height: int | None = None
                    ) -> go.Figure:
    """Horizontal bars of one head's probabilities, highest on top.

    The predicted bar is blue (red when it is not the true class), the true class is green
    and its label carries "✓ true"; all other bars are grey. ``top`` keeps the ``top``
    highest classes (the true class is always kept). Each bar shows its percentage.
    ``customdata`` holds each bar's class index.
    """
    p, order, names, colors = _prediction_order(probs, labels, true, top)
    fig = go.Figure(go.Bar(
        x=[p[i] for i in order], y=names, orientation="h", marker_color=colors,
        text=[f"{p[i]:.1%}" for i in order], textposition="outside", cliponaxis=False,
        customdata=[int(i) for i in order],
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", ticksuffix="  ", showgrid=False)
    # the bars carry their percentages: no x tick labels to clutter narrow columns
    fig.update_xaxes(range=[0, 1.0], showticklabels=False, showgrid=True, gridcolor="#eee",
                     tickvals=[0.25, 0.5, 0.75, 1.0], zeroline=True, zerolinecolor="#ccc")
    width = max((len(n) for n in names), default=4)
    return _base_layout(fig, title, height or 60 + 26 * len(order),
                        margin=dict(l=min(24 + 7 * width, 200), r=52, b=10))


# -------------------------------------------------------------------- confusion matrix
def confusion_matrix(cm, labels: Sequence[str], normalise: bool = True, title: str | None = None,
                     colorscale: str = "Blues", height: int | None = None) -> go.Figure:
    """A confusion matrix heatmap, rows = true class, columns = predicted, first class on top.

    ``normalise=True`` colours each row by its share (recall on the diagonal) and writes
    the percentage in the cell; the hover shows the count. Trace 0 is the heatmap: ``z`` is
    the (normalised) matrix, ``customdata[i][j] = [count, i, j]``. Trace 1 holds invisible
    square markers on the cells (plotly heatmaps emit no click/selection events, scatter
    points do): click a cell and the selected point has ``x`` = predicted label, ``y`` = true
    label and ``customdata = [count, i, j, share]``.
    """
    counts = np.asarray(cm, dtype=float)
    labels = [str(x) for x in labels]
    n = len(labels)
    if counts.shape != (n, n):
        raise ValueError(f"confusion matrix of shape {counts.shape} for {n} labels")
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    if normalise:
        z, zmax = share, 1.0
        text = [[f"{v:.0%}" if c > 0 else "" for v, c in zip(zr, cr)] for zr, cr in zip(z, counts)]
    else:
        z = counts
        zmax = float(counts.max()) if counts.size and counts.max() > 0 else 1.0
        text = [[f"{c:.0f}" if c > 0 else "" for c in cr] for cr in counts]
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    custom = np.stack([counts, ii, jj], axis=-1)
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, customdata=custom, text=text, texttemplate="%{text}",
        textfont=dict(size=10 if n <= 12 else 8), colorscale=colorscale, zmin=0, zmax=zmax,
        hoverinfo="skip", xgap=1, ygap=1, showscale=False,  # the cells carry their values
    ))
    fig.add_trace(go.Scatter(
        x=[labels[j] for j in jj.ravel()], y=[labels[i] for i in ii.ravel()], mode="markers",
        marker=dict(symbol="square", size=22, color="rgba(0,0,0,0)"),
        customdata=np.stack([counts, ii, jj, share], axis=-1).reshape(-1, 4),
        hovertemplate=_cell_hover(normalise), showlegend=False, name="cells",
    ))
    fig.update_yaxes(autorange="reversed", title_text="true", showgrid=False, ticksuffix=" ")
    fig.update_xaxes(title_text="predicted", showgrid=False, tickangle=-45 if n > 4 else 0,
                     side="bottom")
    width = max((len(x) for x in labels), default=4)
    side = min(16 + 6.5 * width, 150)  # room for the tick labels (x labels at -45°: a bit less)
    return _base_layout(fig, title, height or int(max(300, 90 + side + 32 * n)),
                        margin=dict(l=int(side + 26), b=int(side * 0.8 + 30), r=10))


def _cell_hover(normalise: bool) -> str:
    if normalise:
        return ("true %{y}<br>predicted %{x}<br>%{customdata[3]:.1%} of the row "
                "(%{customdata[0]:.0f} images)<extra></extra>")
    return "true %{y}<br>predicted %{x}<br>%{customdata[0]:.0f} images<extra></extra>"


# -------------------------------------------------------------------- training curves
CURVES = {
    "train_loss": ("loss", "train loss", COLORS["train"], "solid"),
    "val_loss": ("loss", "val loss", COLORS["val"], "solid"),
    "train_city_acc": ("acc", "train city", COLORS["train"], "solid"),
    "val_city_acc": ("acc", "val city", COLORS["val"], "solid"),
    "val_group_acc": ("acc", "val group (East/West)", COLORS["group"], "dash"),
}


def training_curves(history: pd.DataFrame, best_epoch: int | None = None, title: str | None = None,
                    height: int = 320) -> go.Figure:
    """Loss (left) and accuracies (right) per epoch from a run's training history; the kept
    epoch (early stopping's best) is marked by a dashed green line. Columns that are
    missing are skipped."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.1)
    if history is None or history.empty or "epoch" not in history:
        fig.add_annotation(text="no training history (e.g. an SVM run)", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)
        return _base_layout(fig, title, height)
    x = history["epoch"]
    for col, (panel, name, color, dash) in CURVES.items():
        if col not in history:
            continue
        fig.add_trace(go.Scatter(x=x, y=history[col], name=name, mode="lines+markers",
                                 line=dict(color=color, dash=dash, width=2), marker=dict(size=4),
                                 hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.3f}}<extra></extra>"),
                      row=1, col=1 if panel == "loss" else 2)
    if best_epoch is not None:
        for c in (1, 2):
            fig.add_vline(x=best_epoch, line=dict(color=COLORS["best"], dash="dot", width=1.5),
                          row=1, col=c)
        fig.add_annotation(text=f" kept: epoch {best_epoch}", x=best_epoch, y=0.02, xref="x2",
                           yref="y2 domain", showarrow=False, yanchor="bottom", xanchor="left",
                           font=dict(color=COLORS["best"], size=11), bgcolor="rgba(255,255,255,0.8)")
    fig.update_xaxes(title_text="epoch", showgrid=True, gridcolor="#eee")
    fig.update_yaxes(showgrid=True, gridcolor="#eee")
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    _base_layout(fig, title, height, margin=dict(t=60 if title else 40, b=90))
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.3, x=0, yanchor="top"))
    return fig


# ------------------------------------------------------------------ attribution bars
def image_data_uri(image) -> str:
    """A PIL image, numpy picture or path as a ``data:image/png;base64,…`` URI (plotly
    layout images, HTML)."""
    from dashboard.figures.images import to_pil

    buf = io.BytesIO()
    to_pil(image).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def attribution_bars(values: Sequence[float], labels: Sequence[str], icons: Sequence | None = None,
                     colors: Sequence[str] | None = None, title: str | None = None,
                     value_format: str = "+.3f", height: int | None = None,
                     xaxis_title: str = "attribution") -> go.Figure:
    """Horizontal attribution bars in the given order (first on top): positive red
    (for the target), negative blue, unless ``colors`` gives one colour per bar.

    ``icons`` (one PIL image / array / path / None per bar) are drawn left of each bar's
    label (feature visualisations of channels or concepts), Building Blocks style.
    """
    v = np.asarray(values, dtype=float).ravel()
    labels = [str(x) for x in labels]
    if len(v) != len(labels):
        raise ValueError(f"{len(v)} values for {len(labels)} labels")
    cols = list(colors) if colors is not None else \
        [COLORS["positive"] if x >= 0 else COLORS["negative"] for x in v]
    row_h = 56 if icons is not None else 26
    fig = go.Figure(go.Bar(
        x=v, y=labels, orientation="h", marker_color=cols,
        text=[format(x, value_format) for x in v], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:" + value_format + "}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", showgrid=False, ticksuffix="  ")
    lo, hi = (float(min(0.0, v.min())), float(max(0.0, v.max()))) if len(v) else (0.0, 1.0)
    span = (hi - lo) or 1.0
    fig.update_xaxes(range=[lo - (0.2 * span if lo < 0 else 0), hi + 0.25 * span], showgrid=True,
                     gridcolor="#eee", zeroline=True, zerolinecolor="#999", title_text=xaxis_title,
                     tickformat=".0%" if value_format.endswith("%") else None)
    left = 0
    if icons is not None:
        left = row_h
        for label, icon in zip(labels, icons):
            if icon is None:
                continue
            fig.add_layout_image(dict(source=image_data_uri(icon), xref="paper", yref="y", x=0, y=label,
                                      sizex=0.9, sizey=0.9, xanchor="right", yanchor="middle",
                                      sizing="contain", layer="above"))
        # paper-referenced icons sit left of the plot area; keep room for them before the labels
        fig.update_yaxes(ticksuffix="  ", ticklabelstandoff=row_h + 4)
    width = max((len(x) for x in labels), default=4)
    return _base_layout(fig, title, height or 90 + row_h * len(labels),
                        margin=dict(l=left + min(30 + 7 * width, 180), r=10, b=50))


def html_bars(values: Sequence[float], labels: Sequence[str], value_format: str = "+.2f",
              width_px: int = 120, icons: Sequence | None = None, icon_px: int = 40) -> str:
    """Signed horizontal bars as a small HTML table (red = for, blue = against), for places
    that show many tiny bar charts at once (concept cards): a dozen plotly charts cost
    seconds to draw in the browser, this costs nothing. Bar lengths are |value| relative
    to the largest |value|; labels are HTML-escaped. ``icons`` (pictures or None, one per
    bar) adds a first column of inline images, e.g. feature visualisations."""
    from html import escape

    vals = np.asarray(values, dtype=float)
    scale = float(np.abs(vals).max()) if len(vals) else 0.0
    rows = []
    for n, (label, v) in enumerate(zip(labels, vals)):
        w = 0 if scale == 0 or not np.isfinite(v) else round(width_px * abs(v) / scale)
        color = COLORS["positive"] if v >= 0 else COLORS["negative"]
        icon = ""
        if icons is not None:
            src = image_data_uri(icons[n]) if n < len(icons) and icons[n] is not None else ""
            icon = (f'<td style="padding:1px 6px 1px 0"><img src="{src}" width="{icon_px}" '
                    f'height="{icon_px}" style="display:block"></td>' if src else
                    f'<td style="padding:1px 6px 1px 0;width:{icon_px}px"></td>')
        rows.append(
            "<tr>" + icon +
            f'<td style="padding:0 6px 0 0;text-align:right;white-space:nowrap">{escape(str(label))}</td>'
            f'<td style="padding:0;width:{width_px}px"><div style="width:{w}px;height:10px;'
            f'background:{color}"></div></td>'
            f'<td style="padding:0 0 0 6px;white-space:nowrap">{format(v, value_format)}</td></tr>')
    return ('<table style="border:none;border-collapse:collapse;font-size:0.8em;line-height:1.3">'
            + "".join(rows) + "</table>")


def channel_bars(values: Sequence[float], channels: Sequence[int], icons: Sequence | None = None,
                 title: str | None = None, **kw) -> go.Figure:
    """``attribution_bars`` labelled "channel 415" (one bar per feature-map channel)."""
    return attribution_bars(values, [f"channel {int(c)}" for c in channels], icons=icons, title=title, **kw)


# ------------------------------------------------------------------ runs comparison
PERCENT_COLUMNS = ("val_city", "test_city", "test_city_f1", "val_group", "test_group")
COMPARISON_LABELS = {
    "run": "run", "dataset": "dataset", "backbone": "backbone", "weights": "weights", "mode": "mode",
    "val_city": "val city", "test_city": "test city", "test_city_f1": "test city F1",
    "val_group": "val group", "test_group": "test group", "epochs": "best epoch",
    "train_s": "train s",
}


def style_comparison(df: pd.DataFrame, selected: str | None = None, rename: bool = True):
    """The runs comparison table (``analysis.train.runs.comparison_table``) as a pandas
    Styler: metrics as percentages, the best value of each metric column in bold, the
    ``selected`` run's row highlighted. ``rename`` gives the columns readable names."""
    names = {c: (COMPARISON_LABELS.get(c, c) if rename else c) for c in df.columns}
    pct = [names[c] for c in PERCENT_COLUMNS if c in df]
    run_col = names.get("run", "run")
    df = df.rename(columns=names)  # Streamlit shows the frame's own column names

    def highlight_row(row):
        on = selected is not None and row.get(run_col) == selected
        return ["background-color: #fff3c4; font-weight: 600" if on else "" for _ in row]

    def bold_best(col):
        vals = pd.to_numeric(col, errors="coerce")
        if vals.notna().sum() < 2:
            return ["" for _ in col]
        best = vals.max()
        return ["font-weight: 700; color: #0b6623" if v == best else "" for v in vals]

    styler = df.style.apply(highlight_row, axis=1)
    if pct:
        styler = styler.apply(bold_best, subset=pct)
    # one format() call: a later call with a dict resets the columns it does not name
    formats = {c: (lambda v: "–" if pd.isna(v) else f"{v:.1%}") for c in pct}
    if names.get("train_s") in df:
        formats[names["train_s"]] = lambda v: "–" if pd.isna(v) else f"{v:.0f}"
    if names.get("epochs") in df:
        formats[names["epochs"]] = lambda v: "–" if pd.isna(v) else f"{int(v)}"
    styler = styler.format(formats)
    return styler.hide(axis="index")
