"""Reliability figures (pure: the ``reliability`` / ``reliability_curves`` tables
in, plotly figures out): the randomisation curves as in
Adebayo et al. (x = randomisation step, y = mean similarity with a ±1 s.d. band), the
deletion/insertion curves against a random order, and the pointing game per method and
per class."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.explain.reliability.maps import method_label

METHOD_COLORS = {
    "gradcam": "#d62728", "gradient": "#1f77b4", "guided_backprop": "#9467bd",
    "guided_gradcam": "#ff7f0e", "integrated_gradients": "#2ca02c", "occlusion": "#8c564b",
    "random": "#7f7f7f",
}
METRIC_LABELS = {"rank_corr_abs": "rank correlation (absolute maps)",
                 "rank_corr_signed": "rank correlation (signed maps)", "ssim": "SSIM"}


def _color(method: str) -> str:
    return METHOD_COLORS.get(method, "#17becf")


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def step_label(layer: str) -> str:
    """Short axis label of a randomisation step ("trunk.stage6" → "stage6")."""
    if layer == "original":
        return "trained"
    return layer[len("trunk."):] if layer.startswith("trunk.") else layer


def _band(fig: go.Figure, x, mean, std, color: str, name: str, legendgroup: str) -> None:
    lo, hi = np.asarray(mean) - np.asarray(std), np.asarray(mean) + np.asarray(std)
    fig.add_trace(go.Scatter(x=list(x) + list(x)[::-1], y=list(hi) + list(lo)[::-1], fill="toself",
                             fillcolor=_rgba(color, 0.08), line=dict(width=0), hoverinfo="skip",
                             showlegend=False, legendgroup=legendgroup, name=f"{name} ± s.d."))


def randomization_figure(table: pd.DataFrame, mode: str = "cascade", metric: str = "rank_corr_abs",
                         methods: list[str] | None = None, height: int = 420) -> go.Figure:
    """One line per method: mean similarity between the trained and the randomised model's
    maps at each step, ±1 s.d. over images as a band. The cascade's last-block step is
    marked."""
    d = table[(table["check"] == "randomization") & (table["mode"] == mode) & (table["metric"] == metric)]
    fig = go.Figure()
    steps = d[["step", "layer"]].drop_duplicates().sort_values("step")
    labels = [step_label(layer) for layer in steps["layer"]]
    methods = methods or list(dict.fromkeys(d["method"]))
    for m in methods:
        dm = d[d["method"] == m].sort_values("step")
        if dm.empty or dm["value"].isna().all():
            continue
        x = [step_label(layer) for layer in dm["layer"]]
        c = _color(m)
        _band(fig, x, dm["value"].to_numpy(), dm["std"].fillna(0).to_numpy(), c, method_label(m), m)
        fig.add_trace(go.Scatter(x=x, y=dm["value"], mode="lines+markers", name=method_label(m),
                                 line=dict(color=c, width=2), legendgroup=m,
                                 customdata=np.stack([dm["std"].fillna(0), dm["n"]], axis=1),
                                 hovertemplate="%{x}: %{y:.2f} ± %{customdata[0]:.2f} (n=%{customdata[1]})"
                                               f"<extra>{method_label(m)}</extra>"))
    mark = d[(d["milestone"] == "last_block")]
    if mode == "cascade" and not mark.empty:
        lab = step_label(mark["layer"].iat[0])
        fig.add_vline(x=labels.index(lab) if lab in labels else 0, line=dict(color="#444", dash="dot", width=1))
        fig.add_annotation(x=lab, y=1.08, yref="y", text="last block random", showarrow=False,
                           font=dict(size=11, color="#444"), xanchor="left")
    fig.add_hline(y=0, line=dict(color="#bbb", width=1))
    what = "cumulative, from the logits down" if mode == "cascade" else "one layer at a time"
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), template="plotly_white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
                      xaxis=dict(title=f"randomised layer ({what})", categoryorder="array",
                                 categoryarray=labels, tickangle=-40),
                      yaxis=dict(title=METRIC_LABELS.get(metric, metric), range=[min(-0.2, float(
                          (d["value"] - d["std"].fillna(0)).min()) if len(d) else 0), 1.15]))
    return fig


def perturbation_figure(curves: pd.DataFrame, kind: str = "deletion", methods: list[str] | None = None,
                        aucs: dict[str, float] | None = None, height: int = 470) -> go.Figure:
    """Target-class probability while pixels are removed (deletion) or revealed (insertion)
    in the order of each method's map; the random order dashed, with its ±1 s.d. band."""
    d = curves[curves["kind"] == kind]
    fig = go.Figure()
    methods = methods or [m for m in dict.fromkeys(d["method"]) if m != "random"]
    rnd = d[d["method"] == "random"].sort_values("step")
    if not rnd.empty:
        _band(fig, rnd["fraction"].to_list(), rnd["value"].to_numpy(), rnd["std"].fillna(0).to_numpy(),
              _color("random"), "random order", "random")
        name = "random order" + (f" (AUC {aucs['random']:.2f})" if aucs and "random" in aucs else "")
        fig.add_trace(go.Scatter(x=rnd["fraction"], y=rnd["value"], mode="lines", name=name,
                                 line=dict(color=_color("random"), dash="dash", width=2), legendgroup="random"))
    for m in methods:
        dm = d[d["method"] == m].sort_values("step")
        if dm.empty:
            continue
        name = method_label(m) + (f" (AUC {aucs[m]:.2f})" if aucs and m in aucs else "")
        fig.add_trace(go.Scatter(x=dm["fraction"], y=dm["value"], mode="lines", name=name,
                                 line=dict(color=_color(m), width=2), legendgroup=m,
                                 hovertemplate="%{x:.0%}: p=%{y:.2f}<extra>" + method_label(m) + "</extra>"))
    xlabel = "share of pixels removed (most important first)" if kind == "deletion" \
        else "share of pixels revealed (most important first)"
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), template="plotly_white",
                      title=dict(text=kind.capitalize() + (" — lower is better" if kind == "deletion"
                                                           else " — higher is better"), font=dict(size=14)),
                      legend=dict(orientation="h", x=0, y=-0.28, yanchor="top", font=dict(size=11)),
                      xaxis=dict(title=xlabel, tickformat=".0%", range=[0, 1]),
                      yaxis=dict(title="probability of the true city", range=[0, 1.02]))
    return fig


def pointing_figure(table: pd.DataFrame, subset: str = "correct", height: int = 320) -> go.Figure:
    """Pointing-game hit rate per method (bars, with n) and the chance level (a random
    point's hit rate) as a marker."""
    d = table[(table["check"] == "localization") & (table["subset"] == subset) & (table["class"] == "all")]
    pg = d[d["metric"] == "pointing_game"].set_index("method")
    ch = d[d["metric"] == "pointing_chance"].set_index("method")
    methods = list(pg.index)
    labels = [method_label(m) for m in methods]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=pg["value"], marker_color=[_color(m) for m in methods], name="hit rate",
                         text=[f"{v:.0%}" for v in pg["value"]], textposition="outside", textfont=dict(size=13),
                         customdata=pg["n"],
                         hovertemplate="%{x}: %{y:.1%} of %{customdata} images<extra></extra>"))
    fig.add_trace(go.Scatter(x=labels, y=ch.reindex(methods)["value"], mode="markers", name="chance",
                             marker=dict(symbol="line-ew", size=40, line=dict(width=3, color="#333")),
                             hovertemplate="chance %{y:.1%}<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), template="plotly_white",
                      showlegend=True, legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
                      yaxis=dict(title="pointing game (hit rate)", tickformat=".0%", range=[0, 1.15]))
    return fig


def pointing_by_class_figure(table: pd.DataFrame, subset: str = "correct", metric: str = "pointing_game",
                             height: int | None = None) -> go.Figure:
    """Heat map method × class of the pointing game (or energy), values written in."""
    d = table[(table["check"] == "localization") & (table["subset"] == subset) & (table["metric"] == metric)]
    grid = d.pivot_table(index="method", columns="class", values="value", aggfunc="first", dropna=False)
    ns = d.pivot_table(index="method", columns="class", values="n", aggfunc="first", dropna=False)
    cols = ["all"] + sorted(c for c in grid.columns if c != "all")
    methods = [m for m in dict.fromkeys(d["method"])]
    grid, ns = grid.reindex(index=methods, columns=cols), ns.reindex(index=methods, columns=cols)
    z = grid.to_numpy(dtype=float)
    text = [["–" if pd.isna(v) else f"{v:.0%}" for v in rv] for rv in z]
    counts = [["" if pd.isna(n) else str(int(n)) for n in rn] for rn in ns.to_numpy()]
    fig = go.Figure(go.Heatmap(z=z, x=cols, y=[method_label(m) for m in methods], text=text,
                               customdata=counts, texttemplate="%{text}", textfont=dict(size=12),
                               zmin=0, zmax=1, colorscale="Blues", colorbar=dict(title="", tickformat=".0%"),
                               hovertemplate="%{y} · %{x}: %{z:.1%} (n=%{customdata})<extra></extra>"))
    fig.update_layout(height=height or 90 + 48 * len(methods), margin=dict(l=10, r=10, t=10, b=10),
                      template="plotly_white", yaxis=dict(autorange="reversed"), xaxis=dict(side="top"))
    return fig
