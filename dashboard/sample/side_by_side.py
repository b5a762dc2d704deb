"""The Sample page with a second model (``sample?run=A&id=X&compare=B``): both runs'
predictions and their maps of the same target on the same photo, side by side, with the
rank correlation of the two maps — how the Compare page's agreement cells and "where they
disagree most" open. B must be analysed on the same dataset with the same classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from analysis.explain.compare.maps import map_correlations
from analysis.explain.cam_views import contrastive_map, gradcam_map
from analysis.precompute.compare_views import CompareError, check_same_dataset
from dashboard import state
from dashboard.figures import images
from dashboard.safe_text import plain
from dashboard.sample.maps import RIGHT, WRONG, Explained

NONE = "—"


def compare_picker(sel: state.Selection) -> str | None:
    """The sidebar's "compare with" choice (kept in the URL as ``compare``)."""
    wanted = state.url_get("compare")
    others = [n for n in state.run_names() if n != sel.name]
    if wanted and wanted not in others:
        st.warning(f"Side by side: there is no other run {plain(wanted)!r}; pick one in the sidebar.")
    if not others:
        return None
    choice = state.url_selectbox("Side by side with", [NONE, *others], "compare", default=NONE,
                                 container=st.sidebar,
                                 help="Show a second run's prediction and maps of the same image next to "
                                      "this run's (both analysed on the same dataset).")
    if choice == NONE:
        state.url_set(compare=None)
        return None
    return choice


def _other(sel: state.Selection, name: str) -> tuple[state.Selection | None, str | None]:
    """B's selection, or why it cannot be shown beside A (one line)."""
    other = state.selection_of(name)
    run, cache = other.run, other.cache
    if not cache.has("cams") or not cache.has("samples"):
        return None, f"run {name} is not analysed yet (`streetlens analyze {name}`)"
    try:
        check_same_dataset(sel.cache, cache)
    except CompareError as exc:
        return None, str(exc)
    if list(run.labels.classes) != list(sel.labels.classes) or list(run.labels.groups) != list(sel.labels.groups):
        return None, f"{name} has other classes than {sel.name}"
    return other, None


def _map(raw: np.ndarray, t: Explained) -> np.ndarray:
    if t.contrast and t.a != t.b:
        return contrastive_map(raw, t.a.output(t.n_classes), t.b.output(t.n_classes))
    return gradcam_map(raw, t.a.output(t.n_classes))


def side_by_side(sel: state.Selection, name_b: str, row: pd.Series, photo, t: Explained, display: dict) -> None:
    """A's and B's prediction and map of the explained target, and ρ of the two maps."""
    sel_b, problem = _other(sel, name_b)
    st.subheader(f"Side by side with {name_b}")
    if sel_b is None:
        st.warning(f"Cannot show {plain(name_b)} beside {plain(sel.name)}: {plain(problem)}.")
        return
    samples_b = sel_b.samples().set_index("id")
    if row["id"] not in samples_b.index:
        st.warning(f"{plain(name_b)}'s analysis has no image {row['id']}.")
        return
    row_b = samples_b.loc[row["id"]]
    raw_a = np.asarray(state.array(sel.cache, "cams")[int(row["row"])], dtype=np.float32)
    raw_b = np.asarray(state.array(sel_b.cache, "cams")[int(row_b["row"])], dtype=np.float32)
    m_a, m_b = _map(raw_a, t), _map(raw_b, t)
    rho = float(map_correlations(m_a[None], m_b[None])[0])
    cols = st.columns(2)
    for col, name, r, m in ((cols[0], sel.name, row, m_a), (cols[1], name_b, row_b, m_b)):
        with col:
            ok = RIGHT if r["correct"] else WRONG
            st.markdown(f"**{plain(name)}** — predicts **{plain(r['pred_class'])}** {r['p_pred']:.1%} {ok}")
            if photo is not None:
                st.image(images.overlay(photo, m, display["opacity"], display["cmap"]), width="stretch")
    what = t.text().replace("**", "")
    st.caption(f"Both maps: Grad-CAM of {plain(what)} at each model's own target layer. Their Spearman rank "
               f"correlation ρ = {rho:.2f} (1: the same places, 0: unrelated).")
