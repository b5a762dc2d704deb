"""A city's portrait as figures: the effect of every concept on the city (bars with their
95 % intervals, the portrait's cards highlighted), a concept's mean map over the city's
mean photo, and the whole portrait as one slide (matplotlib) for export and the talk pack.

Pure functions: data in, figure out. Concept names are user text: plotly renders a
subset of HTML in labels, so they are escaped here (``label``)."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from dashboard.figures import charts, images

UNSTABLE = "⚠ unstable"
AUTO = "(auto)"


def label(name: str, automatic: bool = False, stable: bool = True) -> str:
    """A concept's name for a chart: escaped, with its marks."""
    marks = ([AUTO] if automatic else []) + ([] if stable else [UNSTABLE])
    return " ".join([html.escape(str(name))] + marks)


def effect_chart(effects: pd.DataFrame, city: str, lead: Sequence[int] = (), title: str | None = None,
                 height: int | None = None) -> go.Figure:
    """Bars of each concept's effect on ``city``'s probability (drop when removed) with
    the 95 % bootstrap interval; the portrait's cards (``lead``) in colour, the rest grey,
    unstable ones marked. ``effects``: concept, name, automatic, stable, effect, low, high."""
    e = effects.sort_values("effect", ascending=True)
    lead = {int(k) for k in lead}
    colours = [charts.COLORS["positive"] if int(k) in lead else charts.COLORS["other"] for k in e["concept"]]
    names = [label(n, a, s) for n, a, s in zip(e["name"], e["automatic"], e["stable"])]
    fig = go.Figure(go.Bar(
        x=e["effect"], y=names, orientation="h", marker_color=colours,
        error_x=dict(type="data", symmetric=False, array=(e["high"] - e["effect"]).clip(lower=0),
                     arrayminus=(e["effect"] - e["low"]).clip(lower=0), color="#555", thickness=1.2, width=3),
        customdata=np.stack([e["concept"], e["low"], e["high"]], axis=1),
        hovertemplate="concept %{customdata[0]}: %{x:+.3f} (95 %% interval %{customdata[1]:.3f} to "
                      "%{customdata[2]:.3f})<extra></extra>",
    ))
    fig.add_vline(x=0, line_color="#999", line_width=1)
    fig.update_xaxes(title_text=f"drop of P({html.escape(city)}) when the concept is removed", showgrid=True,
                     gridcolor="#eee", zeroline=False)
    fig.update_yaxes(automargin=True, ticksuffix="  ")
    return charts._base_layout(fig, title, height or 80 + 24 * len(e), margin=dict(l=10))


def mean_map_picture(mean_photo: np.ndarray | None, heat: np.ndarray, size: int = 160) -> np.ndarray:
    """Where a concept occurs in the frame: its mean map over the city's images, laid over
    the city's mean photo (or over grey when there is none)."""
    base = images.fit_square(mean_photo, size) if mean_photo is not None else Image.new("RGB", (size, size), "#cccccc")
    return images.overlay(base, np.clip(np.asarray(heat, dtype=np.float32), 0, None), opacity=0.75, mode="mask")


@dataclass
class CardPictures:
    """A card's pictures for the slide (all optional)."""

    featvis: Image.Image | None = None
    patches: list[Image.Image] = field(default_factory=list)
    mean_map: np.ndarray | None = None


def card_lines(card) -> list[str]:
    """The numbers of one card, as the page and the slide print them."""
    lines = [f"effect on P: {card.effect:+.3f} (95 % interval {card.low:.3f} to {card.high:.3f}, "
             f"{card.images} photos)"]
    if np.isfinite(card.share):
        lines.append(f"in {card.share:.0%} of this city's photos, {card.others:.0%} of the others'"
                     + (f"; {card.where}" if card.where else ""))
    lines.append(f"stability: came back in {card.came_back} of {card.refits} refits"
                 + ("" if card.stable else f"  {UNSTABLE}"))
    if card.pulls:
        lines.append("also pulls towards " + ", ".join(f"{c} {v:+.2f}" for c, v in card.pulls))
    return lines


def portrait_figure(portrait, pictures: Mapping[int, CardPictures], run: str = ""):
    """The portrait as one slide (matplotlib): the question, the sentences, then a row per
    card — feature visualisation, top patches, mean map and the card's numbers."""
    from matplotlib.figure import Figure

    cards = list(portrait.cards)
    n = max(len(cards), 1)
    text = [textwrap.fill(s, 150) for s in portrait.sentences]
    head_h = 0.75 + 0.22 * sum(t.count("\n") + 1 for t in text)
    row_h = 1.75
    total = head_h + row_h * n
    fig = Figure(figsize=(13.33, total))
    fig.text(0.01, 1 - 0.28 / total, f"What makes a street look like {portrait.target}?", fontsize=16,
             weight="bold", va="top")
    if run:
        fig.text(0.99, 1 - 0.3 / total, run, fontsize=9, color="#666", ha="right", va="top")
    fig.text(0.01, 1 - 0.68 / total, "\n".join(text), fontsize=10, va="top", linespacing=1.4)
    height = row_h / total
    for i, card in enumerate(cards):
        y0 = 1 - (head_h + (i + 1) * row_h) / total
        pics = pictures.get(card.concept, CardPictures())
        title = card.name.label + (f"  {AUTO}" if card.name.automatic else "") + \
            ("" if card.stable else f"  {UNSTABLE}")
        fig.text(0.01, y0 + height * 0.97, f"{i + 1}. {title}", fontsize=12, weight="bold", va="top")
        slots = [(0.01, pics.featvis), (0.47, Image.fromarray(pics.mean_map) if pics.mean_map is not None else None)]
        for x, pic in slots:
            ax = fig.add_axes((x, y0 + 0.04 * height, 0.09, height * 0.74))
            ax.axis("off")
            if pic is not None:
                ax.imshow(np.asarray(pic.convert("RGB")))
        if pics.patches:
            strip = images.image_grid(pics.patches[:8], ncols=4, cell=72, pad=2)
            ax = fig.add_axes((0.11, y0 + 0.04 * height, 0.35, height * 0.74))
            ax.axis("off")
            ax.imshow(np.asarray(strip))
            ax.set_anchor("W")
        fig.text(0.575, y0 + height * 0.72, "\n".join(textwrap.fill(s, 75) for s in card_lines(card)),
                 fontsize=9.5, va="top", linespacing=1.45)
    if not cards:
        fig.text(0.01, 0.3, "No stable concept leads this portrait.", fontsize=12)
    return fig
