"""The trust badge next to every attribution map: one small line saying whether the
method passed the reliability checks of the selected run (``streetlens reliability RUN``).

    from dashboard import trust
    trust.badge("gradcam", sel)     # sel: state.Selection (or None: the run in the URL)

``verdicts(cache)`` and ``badge_text(method, verdicts, run_name)`` are pure (no Streamlit
calls) so they can be tested and reused; ``badge`` only renders.
"""
from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from analysis.explain.registry import list_methods
from analysis.explain.reliability.maps import DEFAULT_METHODS
from analysis.explain.reliability.verdict import Verdict, verdicts_from_table
from analysis.store import RunCache

_ALIASES = {
    "gradcam": "gradcam", "gradcamcaptum": "gradcam", "gradient": "gradient", "saliency": "gradient",
    "gradientsaliency": "gradient", "vanillagradient": "gradient", "guidedbackprop": "guided_backprop",
    "guidedbackpropagation": "guided_backprop", "guidedgradcam": "guided_gradcam",
    "integratedgradients": "integrated_gradients", "ig": "integrated_gradients", "occlusion": "occlusion",
}


def canonical(method: str) -> str:
    """Registry name of a method given by name or label ("Grad-CAM" → "gradcam")."""
    key = re.sub(r"[^a-z0-9]", "", str(method).lower())
    return _ALIASES.get(key, str(method))


def _run_cache(cache) -> RunCache:
    return RunCache(cache) if isinstance(cache, (str, Path)) else cache


def verdicts(cache) -> dict[str, Verdict]:
    """``{method: Verdict}`` from the cache's reliability table (a RunCache or its
    folder); empty when the checks have not run."""
    cache = _run_cache(cache)
    return verdicts_from_table(cache.reliability()) if cache.has("reliability") else {}


ICONS = {"pass": ":green[:material/verified:]", "warn": ":orange[:material/warning:]",
         "fail": ":red[:material/dangerous:]", "unknown": ":gray[:material/help:]"}
"""Streamlit Material icons per verdict level (emoji are missing from many fonts)."""


def badge_text(method: str, found: dict[str, Verdict], run_name: str = "RUN") -> str | None:
    """The badge's line (Streamlit markdown, an icon first), or None for a view the checks
    do not cover (concepts, neuron groups …)."""
    name = canonical(method)
    v = found.get(name)
    if v is not None:
        return f"{ICONS[v.level]} {v.badge}"
    if name not in list_methods() and name not in DEFAULT_METHODS:
        return None
    return f"{ICONS['unknown']} not checked yet: run `streetlens reliability {run_name}`"


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_verdicts(root: str, mtime: float) -> dict[str, Verdict]:
    return verdicts(Path(root))


def _selection(sel):
    if sel is not None:
        return sel
    from dashboard import state

    name = state.url_get("run")
    names = state.run_names()
    if not names:
        return None
    name = name if name in names else names[0]
    run = state.get_run(name)
    return type("Sel", (), {"run": run, "cache": state.get_cache(run)})()


def badge(method: str, sel=None) -> None:
    """Render the trust badge of ``method`` for the selected run (a small caption linking
    to the Reliability page's numbers). Renders nothing for views the checks do not cover."""
    try:
        sel = _selection(sel)
    except Exception:  # noqa: BLE001 - a badge must never break the page it decorates
        return
    if sel is None:
        return
    cache = _run_cache(sel.cache)
    found = _cached_verdicts(str(cache.root), cache.mtime("reliability")) if cache.has("reliability") else {}
    text = badge_text(method, found, sel.run.name)  # the checks belong to the model
    if text:
        st.caption(text + ("  ·  details on the *Reliability* page" if found else ""))
