"""Concept figures (pure: tables and arrays in, plotly figures out):

* ``contribution_bars`` — why one city and not another: each concept's contribution to
  logit(predicted) − logit(true) of an image (or the mean over a confused pair);
* ``concept_deletion_figure`` — a city's probability as its concepts are removed in
  order of effect vs in random order (the ``concept_curves`` table);
* ``sweep_figure`` — concepts fitted at several layers × k: reconstruction error,
  stability and completeness, the recommended setting marked (the ``concept_sweep`` table).

Concept names are the user's text: they are HTML-escaped here, since plotly renders a
subset of HTML in labels and hover text.
"""
from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.explain.concepts.contrast import signed
from dashboard.figures.charts import COLORS

ORDER_STYLE = {"ranked": dict(color="#d62728", dash="solid"), "random": dict(color="#7f7f7f", dash="dash")}
ORDER_LABEL = {"ranked": "most effective first", "random": "random order"}
SWEEP_MEASURES = (("relative_error", "reconstruction error", "lower is better"),
                  ("stable_share", "stable concepts", "higher is better"),
                  ("completeness", "completeness", "higher is better"))
LAYER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


def _layout(fig: go.Figure, height: int, title: str | None = None, **kw) -> go.Figure:
    fig.update_layout(height=height, template="plotly_white", margin=kw.pop("margin", dict(l=10, r=10, t=40, b=10)),
                      title=dict(text=escape(title), font=dict(size=14)) if title else None, **kw)
    return fig


# ------------------------------------------------------------------ why this city
def contribution_bars(values: Sequence[float], labels: Sequence[str], predicted: str, true: str,
                      title: str | None = None, height: int | None = None) -> go.Figure:
    """Horizontal bars in the given order (first on top): each concept's contribution to
    logit(``predicted``) − logit(``true``). Bars towards the predicted city are red (the
    model's wrong choice), towards the true city green. ``labels`` are plain text (escaped
    here); two concepts may share a name, so bars sit at positions 0, 1, … labelled."""
    v = np.asarray(values, dtype=float).ravel()
    labels = [str(x) for x in labels]
    if len(v) != len(labels):
        raise ValueError(f"{len(v)} values for {len(labels)} labels")
    shown = [escape(x) for x in labels]
    y = list(range(len(v)))
    fig = go.Figure(go.Bar(
        x=v.tolist(), y=y, orientation="h", marker_color=[COLORS["wrong"] if x >= 0 else COLORS["true"] for x in v],
        text=[signed(x) for x in v], textposition="outside", cliponaxis=False, customdata=shown,
        hovertemplate="%{customdata}: %{text}<extra></extra>"))
    lo, hi = (float(min(0.0, v.min())), float(max(0.0, v.max()))) if len(v) else (0.0, 1.0)
    span = (hi - lo) or 1.0
    fig.update_yaxes(tickmode="array", tickvals=y, ticktext=shown, autorange="reversed", showgrid=False,
                     ticksuffix="  ")
    fig.update_xaxes(range=[lo - 0.25 * span * (lo < 0), hi + 0.25 * span * (hi > 0) + 1e-9], zeroline=True,
                     zerolinecolor="#999", gridcolor="#eee",
                     title_text=f"← towards {escape(true)} (true) · towards {escape(predicted)} (predicted) →")
    width = max((len(x) for x in labels), default=4)
    return _layout(fig, height or 90 + 28 * len(v), title,
                   margin=dict(l=min(30 + 7 * width, 240), r=10, t=40 if title else 10, b=50))


# ------------------------------------------------------------------ concept deletion
def mean_curves(curves: pd.DataFrame, curve: str = "deletion") -> pd.DataFrame:
    """The ``concept_curves`` rows of ``curve`` averaged over the cities (each city
    counts once), with ``target`` = "all cities"."""
    d = curves[curves["curve"] == curve]
    g = d.groupby(["order", "step"], as_index=False).agg(fraction=("fraction", "first"), p=("p", "mean"),
                                                          images=("images", "sum"))
    return g.assign(target="all cities", curve=curve)


def concept_deletion_figure(curves: pd.DataFrame, target: str | None = None, curve: str = "deletion",
                            aucs: dict[str, float] | None = None, removed: Sequence[str] | None = None,
                            height: int = 420) -> go.Figure:
    """``target``'s mean probability (over its test images) as concepts are removed
    (``curve="deletion"``) or kept (``"insertion"``) one by one: in the order of their
    measured effect (red) and in random order (grey, dashed; the mean over random orders).
    ``target=None``: the mean over the cities. ``aucs`` (order → area) go in the legend;
    ``removed`` (concept names in the ranked order, plain text) in the ranked curve's hover.
    """
    d = mean_curves(curves, curve) if target is None else \
        curves[(curves["curve"] == curve) & (curves["target"] == target)]
    fig = go.Figure()
    for order in ("random", "ranked"):
        s = d[d["order"] == order].sort_values("step")
        if s.empty:
            continue
        name = ORDER_LABEL[order] + (f" (AUC {aucs[order]:.2f})" if aucs and order in aucs else "")
        steps = s["step"].to_numpy(dtype=int)
        if order == "ranked" and removed is not None:
            verb = "removed" if curve == "deletion" else "kept"
            hover = ["nothing " + verb if k == 0 else
                     f"{k} {verb}, last: {escape(str(removed[k - 1]))}" if k - 1 < len(removed) else f"{k} {verb}"
                     for k in steps]
        else:
            hover = [f"{k} {'removed' if curve == 'deletion' else 'kept'}" for k in steps]
        fig.add_trace(go.Scatter(x=steps.tolist(), y=s["p"].tolist(), mode="lines+markers", name=name, customdata=hover,
                                 line=dict(width=2.5 if order == "ranked" else 2, **ORDER_STYLE[order]),
                                 marker=dict(size=5), hovertemplate="%{customdata}: p=%{y:.2f}<extra></extra>"))
    k = int(d["step"].max()) if len(d) else 0
    who = "the cities (mean)" if target is None else escape(str(target))
    xlabel = ("concepts removed, one at a time" if curve == "deletion" else "concepts kept, one at a time")
    fig.update_layout(legend=dict(orientation="h", x=0, y=-0.25, yanchor="top", font=dict(size=11)),
                      xaxis=dict(title=xlabel, range=[-0.3, k + 0.3], dtick=1 if k <= 24 else None),
                      yaxis=dict(title=f"probability of {who}", range=[0, 1.02]))
    title = f"Concept {curve} — " + ("lower is better" if curve == "deletion" else "higher is better")
    return _layout(fig, height, title, margin=dict(l=10, r=10, t=40, b=10))


# ------------------------------------------------------------------ layer × k sweep
def sweep_figure(table: pd.DataFrame, thresholds: dict[str, float] | None = None, height: int = 380) -> go.Figure:
    """One panel per measure (reconstruction error, share of stable concepts,
    completeness), x = k, one line per layer; the recommended setting (``recommended``
    column) circled in every panel; ``thresholds`` (measure → value) dashed."""
    fig = make_subplots(rows=1, cols=len(SWEEP_MEASURES), horizontal_spacing=0.08,
                        subplot_titles=[f"{label} ({hint})" for _, label, hint in SWEEP_MEASURES])
    layers = list(dict.fromkeys(table["layer"]))
    rec = table[table["recommended"].astype(bool)] if "recommended" in table else table.iloc[:0]
    for i, layer in enumerate(layers):
        s = table[table["layer"] == layer].sort_values("k")
        color = LAYER_COLORS[i % len(LAYER_COLORS)]
        name = escape(str(layer))
        for j, (col, label, _) in enumerate(SWEEP_MEASURES, start=1):
            fig.add_trace(go.Scatter(x=s["k"].tolist(), y=s[col].tolist(), mode="lines+markers", name=name,
                                     legendgroup=str(layer), showlegend=j == 1, line=dict(color=color, width=2),
                                     marker=dict(size=7),
                                     hovertemplate=f"{name}, k=%{{x}}: {label} %{{y:.2f}}<extra></extra>"),
                          row=1, col=j)
    for j, (col, label, _) in enumerate(SWEEP_MEASURES, start=1):
        if len(rec):
            fig.add_trace(go.Scatter(x=rec["k"].tolist(), y=rec[col].tolist(), mode="markers", name="recommended",
                                     legendgroup="recommended", showlegend=j == 1,
                                     marker=dict(size=18, symbol="circle-open", color="#111", line=dict(width=3)),
                                     hovertemplate=f"recommended: {label} %{{y:.2f}}<extra></extra>"), row=1, col=j)
        if thresholds and col in thresholds:
            fig.add_hline(y=thresholds[col], line=dict(color="#888", dash="dot", width=1), row=1, col=j)
        fig.update_xaxes(title_text="k (concepts)", tickvals=sorted(int(k) for k in table["k"].unique()), row=1, col=j)
        top = max(1.0, float(np.nanmax(table[col].to_numpy(dtype=float))) if len(table) else 1.0)
        fig.update_yaxes(tickformat=".0%", range=[0, 1.08 * top], row=1, col=j)
    return _layout(fig, height, None, margin=dict(l=10, r=10, t=40, b=10),
                   legend=dict(orientation="h", x=0, y=-0.22, yanchor="top"))
