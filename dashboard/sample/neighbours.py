"""The image's nearest training images in the model's feature space (the ``map`` stage)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.precompute import missing_hint
from dashboard import state
from dashboard.figures import images
from dashboard.sample.picker import go_to
from dashboard.sample.pictures import thumbnail

GREEN, RED = (46, 160, 67), (215, 58, 73)  # frames: the model classifies that image right / wrong


def neighbours_section(sel, samples: pd.DataFrame, row: pd.Series) -> None:
    st.subheader("Nearest training images")
    if not sel.cache.has("neighbors"):
        st.info(f"Not computed yet: {missing_hint(sel.name, 'neighbors')}.")
        return
    nb = state.array(sel.cache, "neighbors")[int(row["row"])]
    st.caption("Closest in the model's feature space (cosine distance of the pooled features), "
               "nearest first.")
    found = [r for _, r in state.take_rows(samples, nb).iterrows()]
    if not found:
        return
    paths = state.records(sel, [r["row"] for r in found], ("path",))["path"]
    pics = [thumbnail(str(sel.image_path(p))) for p in paths]
    caps = [f"{i + 1}. {r['class']}" + ("" if r["correct"] else f" -> {r['pred_class']}")
            for i, r in enumerate(found)]
    borders = [GREEN if r["correct"] else RED for r in found]
    # one picture and one control for all neighbours (fewer elements: a faster sample change)
    st.image(images.thumbnail_strip(pics, size=160, captions=caps, borders=borders), width="stretch")
    st.caption("Green frame: the model classifies that training image correctly; red: it does "
               "not (→ its prediction).")
    options = {f"nb_{int(r['row'])}": r["id"] for r in found}
    labels = {f"nb_{int(r['row'])}": f"{i + 1}. {r['class']}" + ("" if r["correct"] else f" → {r['pred_class']}")
              for i, r in enumerate(found)}
    st.pills("Open a neighbour", list(options), format_func=labels.get, key="w_open_nb",
             on_change=_open_neighbour, args=(options,))


def _open_neighbour(options: dict) -> None:
    choice = st.session_state.pop("w_open_nb", None)
    if choice in options:
        go_to(options[choice])
