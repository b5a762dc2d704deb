"""The name every concept goes by, as the pages show it: the user's name, else the
automatic candidate marked "(auto)", and "⚠ unstable" where the concept does not come
back when refitted. One function, so every page, chart and export says the same name.

Plain text: callers escape it for markdown (``safe_text.plain``) or HTML. A names file
broken by hand is said once, in one line, and the automatic names stand in meanwhile."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.precompute import concept_views
from analysis.store import RunCache
from analysis.store.names import NamesError


def given_names(cache: RunCache, warn=None) -> dict:
    """The users' names ({} after saying in one line why the file cannot be read)."""
    try:
        return cache.names().names()
    except NamesError as exc:
        (warn or st.warning)(f"{exc} (automatic names shown meanwhile)")
        return {}


def concept_labels(cache: RunCache, warn=None) -> dict[int, str]:
    """concept → "name (auto) ⚠ unstable" (marks only where they apply); "concept k"
    for every concept when the names stage has not run."""
    labels = concept_views.concept_labels(cache, given_names(cache, warn))
    return {int(r.concept): r.name + (" (auto)" if r.automatic and r.name != f"concept {r.concept}" else "")
            + (" ⚠ unstable" if r.stable is not None and not pd.isna(r.stable) and not r.stable else "")
            for r in labels.itertuples()}
