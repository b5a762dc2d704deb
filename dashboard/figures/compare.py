"""Two runs compared, as figures: accuracy per city with 95 % intervals (significant
differences marked), the agreement cells, and the distribution of the per-image rank
correlation of their Grad-CAM maps per city. Pure: tables in, plotly figures out."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures import charts

COLOURS = {"A": "#1f77b4", "B": "#ff7f0e"}


def accuracy_chart(acc: pd.DataFrame, run_a: str, run_b: str, title: str | None = None) -> go.Figure:
    """Both runs' accuracy per city (and "all") with their intervals; a * after a city
    whose difference McNemar's test finds significant."""
    labels = [f"{c} *" if s else str(c) for c, s in zip(acc["class"], acc["significant"])]
    fig = go.Figure()
    for key, run in (("a", run_a), ("b", run_b)):
        fig.add_trace(go.Bar(
            x=labels, y=acc[f"acc_{key}"], name=html.escape(run), marker_color=COLOURS[key.upper()],
            error_y=dict(type="data", symmetric=False, array=acc[f"high_{key}"] - acc[f"acc_{key}"],
                         arrayminus=acc[f"acc_{key}"] - acc[f"low_{key}"], thickness=1.2, width=3),
            customdata=np.stack([acc[f"low_{key}"], acc[f"high_{key}"], acc["p_mcnemar"]], axis=1),
            hovertemplate="%{x}: %{y:.1%} (95 %% interval %{customdata[0]:.1%} to %{customdata[1]:.1%}); "
                          "McNemar p = %{customdata[2]:.3f}<extra>" + html.escape(run) + "</extra>"))
    fig.update_layout(barmode="group", showlegend=True, legend=dict(orientation="h", y=-0.2))
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title_text="accuracy", gridcolor="#eee")
    charts._base_layout(fig, title, 380)
    fig.update_layout(showlegend=True)
    return fig


def agreement_chart(agreement: pd.DataFrame, title: str | None = None) -> go.Figure:
    """The four agreement cells as bars with counts and shares."""
    colours = ["#2ca02c", COLOURS["A"], COLOURS["B"], "#d62728"]
    fig = go.Figure(go.Bar(x=agreement["cell"], y=agreement["images"], marker_color=colours,
                           text=[f"{n} ({s:.0%})" for n, s in zip(agreement["images"], agreement["share"])],
                           textposition="outside", cliponaxis=False))
    fig.update_yaxes(title_text="images", gridcolor="#eee")
    return charts._base_layout(fig, title, 300)


def map_correlation_chart(corr: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Per city, the distribution of the per-image Spearman ρ of the two runs' true-class
    Grad-CAM (1: they look at the same places)."""
    fig = go.Figure()
    for city, rows in corr.dropna(subset=["rho"]).groupby("class", sort=True):
        fig.add_trace(go.Box(y=rows["rho"], name=str(city), boxpoints="all", jitter=0.4, pointpos=0,
                             marker=dict(size=4, color=charts.COLORS["pred"]), line=dict(color="#555"),
                             customdata=rows["id"], hovertemplate="%{customdata}: ρ = %{y:.2f}<extra></extra>"))
    fig.add_hline(y=0, line_color="#999", line_width=1)
    fig.update_yaxes(range=[-1.05, 1.05], title_text="Spearman ρ of the two Grad-CAMs", gridcolor="#eee")
    return charts._base_layout(fig, title, 360)


def layer_cka_chart(table: pd.DataFrame, run_a: str, run_b: str, title: str | None = None) -> go.Figure:
    """Heat map of linear CKA between every stage of A (rows, input at the top) and every
    stage of B (columns): a bright diagonal where the two build the same features."""
    la = table.drop_duplicates("layer_a").sort_values("depth_a")["layer_a"].tolist()
    lb = table.drop_duplicates("layer_b").sort_values("depth_b")["layer_b"].tolist()
    grid = table.pivot(index="layer_a", columns="layer_b", values="cka").loc[la, lb]
    short = lambda names: [n.removeprefix("trunk.") for n in names]  # noqa: E731
    fig = go.Figure(go.Heatmap(z=grid.to_numpy(), x=short(lb), y=short(la), zmin=0, zmax=1, colorscale="Viridis",
                               text=np.round(grid.to_numpy(), 2), texttemplate="%{text}",
                               colorbar=dict(title="CKA", thickness=12),
                               hovertemplate="A %{y} · B %{x}: CKA %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text=f"A: {html.escape(run_a)}")
    fig.update_xaxes(title_text=f"B: {html.escape(run_b)}", side="bottom")
    return charts._base_layout(fig, title, 120 + 34 * len(la), margin=dict(l=130, b=80))


def layer_cka_sentence(table: pd.DataFrame) -> str:
    """What the heat map says: for the same architecture, where the two runs part ways;
    otherwise, which stage of B each stage of A is closest to."""
    same = table[table["layer_a"] == table["layer_b"]]
    if len(same) and len(same) == table["layer_a"].nunique():
        diverged = same[same["cka"] < 0.99]
        if diverged.empty:
            return "Same architecture: every stage has CKA ≥ 0.99 — the two runs build the same features."
        first = diverged.sort_values("depth_a").iloc[0]
        before = same[same["depth_a"] < first["depth_a"]].sort_values("depth_a")
        start = (f"identical (CKA ≥ 0.99) up to {before['layer_a'].iat[-1].removeprefix('trunk.')}; "
                 if len(before) else "")
        return (f"Same architecture: {start}from {first['layer_a'].removeprefix('trunk.')} on, CKA falls to "
                f"{diverged['cka'].min():.2f} — where training made the two runs' features differ.")
    best = table.loc[table.groupby("layer_a")["cka"].idxmax()].sort_values("depth_a")
    bits = ", ".join(f"{r.layer_a.removeprefix('trunk.')}→{r.layer_b.removeprefix('trunk.')} ({r.cka:.2f})"
                     for r in best.itertuples())
    return f"Closest stage of B for each stage of A: {bits}."
