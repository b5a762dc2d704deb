"""An experiment's grid as figures: test accuracy per grid point with its 95 % interval
across seeds (each seed a dot), and the data-efficiency curves (accuracy against the share
of training images, one line per backbone · mode). Pure: tables in, plotly figures out."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures import charts

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _label(backbone, mode) -> str:
    return f"{backbone} · {mode}"


def _colours(summary: pd.DataFrame) -> dict[str, str]:
    points = list(dict.fromkeys(_label(b, m) for b, m in zip(summary["backbone"], summary["mode"])))
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(points)}


def grid_chart(summary: pd.DataFrame, runs: pd.DataFrame, fraction: float | None = None,
               title: str | None = None) -> go.Figure:
    """At one training fraction (default: the largest), each grid point's mean test city
    accuracy (a diamond) with its t-interval across seeds, and every seed's own accuracy as
    a dot."""
    fraction = summary["fraction"].max() if fraction is None else fraction
    s = summary[summary["fraction"] == fraction].sort_values("test_city", ascending=False)
    colours = _colours(summary)
    labels = [_label(b, m) for b, m in zip(s["backbone"], s["mode"])]
    has_ci = s["low"].notna()
    # points, not bars: the axis starts near the lowest accuracy, and a bar cut off there
    # would exaggerate the differences
    fig = go.Figure(go.Scatter(
        x=labels, y=s["test_city"], mode="markers+text", name="mean of the seeds",
        marker=dict(color=[colours[x] for x in labels], size=16, symbol="diamond"),
        error_y=dict(type="data", symmetric=False, array=np.where(has_ci, s["high"] - s["test_city"], 0),
                     arrayminus=np.where(has_ci, s["test_city"] - s["low"], 0), thickness=2, width=10),
        customdata=np.stack([s["low"], s["high"], s["seeds"]], axis=1),
        hovertemplate="%{x}: %{y:.1%} over %{customdata[2]} seeds (95 %% interval %{customdata[0]:.1%} to "
                      "%{customdata[1]:.1%})<extra></extra>",
        text=[f"{v:.1%}" for v in s["test_city"]], textposition="middle right"))
    r = runs[runs["fraction"] == fraction]
    xs = [_label(b, m) for b, m in zip(r["backbone"], r["mode"])]
    fig.add_trace(go.Scatter(x=xs, y=r["test_city"], mode="markers", name="one seed",
                             marker=dict(color="#222", size=8, symbol="circle-open"),
                             customdata=np.stack([r["seed"], r["run"]], axis=1),
                             hovertemplate="seed %{customdata[0]}: %{y:.1%}<br>%{customdata[1]}<extra></extra>"))
    low = float(np.nanmin([s["low"].min(), r["test_city"].min(), s["test_city"].min()]))
    fig.update_yaxes(range=[max(0.0, low - 0.1), 1.0], tickformat=".0%", title_text="test city accuracy",
                     gridcolor="#eee")
    charts._base_layout(fig, title, 380)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.25))
    return fig


def efficiency_chart(summary: pd.DataFrame, runs: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Test city accuracy against the number of training images (log axis), one line per
    grid point with its 95 % band across seeds: where (and whether) scratch catches up."""
    fig = go.Figure()
    colours = _colours(summary)
    for (backbone, mode), s in summary.groupby(["backbone", "mode"], sort=False):
        s = s.sort_values("fraction")
        name = _label(backbone, mode)
        x = s["n_train"] if s["n_train"].notna().all() else s["fraction"]
        c = colours[name]
        if s["low"].notna().any():
            fig.add_trace(go.Scatter(x=list(x) + list(x)[::-1], y=list(s["high"]) + list(s["low"])[::-1],
                                     fill="toself", fillcolor=c, opacity=0.08, line=dict(width=0),
                                     hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=s["test_city"], mode="lines+markers", name=html.escape(name),
                                 line=dict(color=c, width=2), marker=dict(size=8),
                                 customdata=np.stack([s["fraction"], s["low"], s["high"], s["seeds"]], axis=1),
                                 hovertemplate=html.escape(name) + ": %{y:.1%} with %{x} training images "
                                 "(%{customdata[0]:.0%} of them; 95 %% interval %{customdata[1]:.1%} to "
                                 "%{customdata[2]:.1%}, %{customdata[3]} seeds)<extra></extra>"))
    ticks = sorted({v for v in (summary["n_train"] if summary["n_train"].notna().all() else summary["fraction"])})
    fig.update_xaxes(type="log", title_text="training images (log scale)", gridcolor="#eee",
                     tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])
    fig.update_yaxes(tickformat=".0%", title_text="test city accuracy", gridcolor="#eee")
    charts._base_layout(fig, title, 400)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.25))
    return fig
