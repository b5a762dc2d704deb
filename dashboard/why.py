"""Why this city and not that one, as the Errors page shows it: each misclassified image's
concept contributions to logit(predicted) − logit(true) as a linked line, and every
confused pair with the concepts that set its mistakes apart. City and concept names
link to the Portrait page and are shown as typed (escaped)."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from analysis.explain import mistakes
from analysis.explain.concepts.contrast import signed
from analysis.precompute import concept_views, missing_hint
from analysis.store import CacheError
from dashboard import state
from dashboard.concept_names import given_names
from dashboard.links import portrait_url
from dashboard.safe_text import plain

WHY_TOP = 3  # concepts in a line
WHY_BARS = 8  # concepts in the picked image's bar chart
PAIRS_SHOWN = 8
MUTED = 'style="color:#6b7280;font-size:0.85em"'


def _a(url: str, inner_html: str) -> str:
    return f'<a href="{escape(url, quote=True)}" target="_self">{inner_html}</a>'


def city_html(run: str, city: str) -> str:
    """A class name as a link to its portrait (shown as typed)."""
    return _a(portrait_url(run, city), plain(city))


def unstable(value) -> bool:
    """A concept measured unstable (``None``/NaN: stability not measured)."""
    return value is not None and not pd.isna(value) and not bool(value)


def concept_label(r) -> str:
    """Plain text: the concept's name, marked when automatic or unstable."""
    return f"{r['name']}" + (" (auto)" if r["automatic"] else "") + (" ⚠ unstable" if unstable(r["stable"]) else "")


def concept_html(run: str, city: str, r) -> str:
    """A concept as a link to its card in ``city``'s portrait, quoted, with its marks; the
    name is the user's text, shown as typed (HTML and markdown escaped)."""
    out = _a(portrait_url(run, city, int(r["concept"])), "'" + plain(r["name"]) + "'")
    if r["automatic"]:
        out += f' <span {MUTED} title="automatic name: nobody has confirmed it yet">(auto)</span>'
    if unstable(r["stable"]):
        out += ' <span style="color:#b45309" title="this concept did not come back in most refits">⚠ unstable</span>'
    return out


def why_line(run: str, predicted: str, true: str, items: pd.DataFrame) -> str:
    """HTML: "Vancouver over Tokyo: 'wide road' +0.80, 'utility poles' −0.30" — each
    concept linked to the portrait of the city it pushes towards."""
    parts = [f"{concept_html(run, predicted if r['contribution'] >= 0 else true, r)} "
             f"<b>{signed(r['contribution'])}</b>" for r in items.to_dict("records")]
    return (f"<b>{city_html(run, predicted)}</b> over <b>{city_html(run, true)}</b>: "
            + (", ".join(parts) if parts else "no concept"))


def _names_stamp(cache) -> float:
    path = cache.names().path
    return path.stat().st_mtime if path.is_file() else 0.0


@st.cache_data(show_spinner=False, max_entries=32)
def _explanations(root: str, stamp: tuple, rows: tuple, classes: tuple, _cache, _sub: pd.DataFrame,
                  _given: dict) -> pd.DataFrame:
    """The why lines' concepts of ``_sub``'s explained mistakes; of a whole split (``rows`` is
    then ``(split,)``) as the analysis stored them, when it did (no per-image array read)."""
    stored = concept_views.stored_explanations(_cache, rows[0], _sub, _given) if len(rows) == 1 and \
        isinstance(rows[0], str) else None
    return stored if stored is not None else concept_views.error_explanations(_cache, list(classes), _sub, top=None,
                                                                               given=_given)


@st.cache_data(show_spinner=False, max_entries=32)
def _pairs(root: str, stamp: tuple, rows: tuple, classes: tuple, _cache, _sub: pd.DataFrame,
           _given: dict) -> pd.DataFrame:
    """The confused pairs of ``_sub``; of a whole split (``rows`` is then ``(split,)``) as the
    analysis stored them, when it did (a million images: no per-image array is read)."""
    stored = concept_views.stored_pair_view(_cache, rows[0], WHY_TOP, _given) if len(rows) == 1 and \
        isinstance(rows[0], str) else None
    return stored if stored is not None else concept_views.pair_view(_cache, list(classes), _sub, top=WHY_TOP,
                                                                      given=_given)


def contrast_tables(sel: state.Selection, sub: pd.DataFrame, split: str | None = None, warn=None
                    ) -> tuple[pd.DataFrame, pd.DataFrame] | str:
    """(every concept's contribution for the misclassified images of ``sub`` — each confusion
    cell's ``mistakes.PER_CELL`` most confident —, the confused pairs with their separating
    concepts over all of ``sub``), or one line saying what is missing. ``split`` names what
    ``sub`` is (the cache key; without it, its rows are). A names file that cannot be read
    gets its one line here (``warn``, default ``st.warning``), and the automatic names stand in."""
    cache = sel.cache
    if not cache.has("concept_removal_logits"):
        return f"Not computed yet: {missing_hint(sel.name, 'concept_removal_logits')}."
    given = given_names(cache, warn)
    stamp = tuple(cache.mtime(a) if cache.has(a) else 0.0 for a in (
        "concept_removal_logits", "concept_contrast", "concept_name_candidates", "concept_stability"))
    key = (str(cache.root), stamp + (_names_stamp(cache),),
           (split,) if split is not None else tuple(int(r) for r in sub["row"]), tuple(sel.labels.classes))
    try:
        return _explanations(*key, cache, mistakes.most_confident_per_cell(sub), given), _pairs(*key, cache, sub, given)
    except CacheError as exc:
        return str(exc)


def pairs_section(sel: state.Selection, split: str, true: str, pred: str,
                  contrast: tuple[pd.DataFrame, pd.DataFrame] | str, where: str) -> None:
    """Every confused pair of the split with the concepts that set its mistakes apart
    (nothing when the contributions are missing: the section above said so)."""
    if isinstance(contrast, str):
        return
    st.subheader("Confused pairs")
    _, pairs = contrast
    if pairs.empty:
        st.success(f"No city mistakes in {where}.")
        return
    run = sel.name
    st.caption("Per pair (true city taken for another), the concepts whose mean contribution to "
               "logit(predicted) − logit(true) over its mistakes differs most from what it usually is in the "
               "true city's correctly classified images (in brackets). E.g. −0.75 (usually −5.17): a concept "
               "that normally argues hard for the true city barely did in these mistakes.")
    lines = []
    for (t, p), g in pairs.groupby(["true", "predicted"], sort=False):
        n = int(g["images"].iat[0])
        parts = []
        for r in g.to_dict("records"):
            usual = "" if pd.isna(r["usual"]) else f" <span {MUTED}>(usually {signed(r['usual'])})</span>"
            parts.append(f"{concept_html(run, p if r['contribution'] >= 0 else t, r)} "
                         f"<b>{signed(r['contribution'])}</b>{usual}")
        cell = "errors?" + urlencode({"run": run, "split": split, "true": t, "pred": p})
        here = f' <span {MUTED}>(the cell listed above)</span>' if (t, p) == (true, pred) else ""
        lines.append(f"<b>{city_html(run, t)}</b> taken for <b>{city_html(run, p)}</b>: "
                     f"{_a(cell, f'{n} image' + ('s' if n != 1 else ''))}; separating concepts: "
                     + ", ".join(parts) + here)
    for line in lines[:PAIRS_SHOWN]:
        st.markdown(line, unsafe_allow_html=True)
    if len(lines) > PAIRS_SHOWN:
        with st.expander(f"{len(lines) - PAIRS_SHOWN} more pairs"):
            for line in lines[PAIRS_SHOWN:]:
                st.markdown(line, unsafe_allow_html=True)
