"""Building blocks for the explained target in this image (Building Blocks of
Interpretability): the channels that push towards it, the image's own neuron groups and
the dataset's concepts — each with its share of the evidence (``analysis.explain.evidence``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from analysis.explain import evidence
from analysis.explain.concepts.factorize import neuron_groups
from analysis.precompute import missing_hint
from analysis.precompute.featvis_on_demand import SAMPLE_CHANNELS
from analysis.store import RunCache
from dashboard import featvis_ui, state, trust
from dashboard.concept_names import concept_labels
from dashboard.figures import charts, images
from dashboard.sample.maps import Explained
from dashboard.sample.pictures import icon, small

N_CHANNELS = SAMPLE_CHANNELS  # the featvis stage precomputes the first image's


def channels(sel, row: pd.Series, photo, t: Explained, display: dict) -> None:
    r = int(row["row"])
    v = evidence.target_vector(state.array(sel.cache, "channel_attr")[r], t.a, t.b, t.n_classes)
    top = evidence.top_channels(v, N_CHANNELS)
    pictures = featvis_ui.featvis_pictures(sel, [("channel", c) for c in top])
    icon_imgs = [icon(pictures[("channel", c)], 40) for c in top]
    st.caption(f"The feature-map channels whose gradient × activation pushes most towards "
               f"{t.text()} in this image. Icons: feature visualisations (an image optimised "
               f"to excite the channel; rendered on first view and kept).")
    c1, c2 = st.columns([1.1, 1.4])
    with c1:
        st.markdown(charts.html_bars(v[top], [f"channel {c}" for c in top], value_format="+.3f",
                                     width_px=160, icons=icon_imgs, icon_px=40),
                    unsafe_allow_html=True)
    with c2:
        st.markdown("**Where each channel fires in this image**")
        if photo is None:
            return
        thumb = small(photo)
        a = np.asarray(state.array(sel.cache, "activations")[r][top], dtype=np.float32)
        pics = [images.overlay(thumb, np.clip(m, 0, None), display["opacity"], display["cmap"], mode="mask")
                for m in a]
        st.image(images.image_grid(pics, ncols=4, cell=160, captions=[f"channel {c} · {v[c]:+.3f}" for c in top]),
                 width="stretch")


@st.cache_data(show_spinner=False, max_entries=512)
def _groups(root: str, mtime: float, row: int, k: int, _cache: RunCache) -> tuple[np.ndarray, np.ndarray]:
    """The image's own neuron groups: maps and channel directions (per image and k)."""
    return neuron_groups(np.asarray(_cache.activations()[row], dtype=np.float32), k=k)


def groups(sel, row: pd.Series, photo, t: Explained, display: dict) -> None:
    k = st.slider("Number of neuron groups", 2, 8, 5, key="w_groups")
    r = int(row["row"])
    alpha = evidence.target_vector(state.array(sel.cache, "gradients")[r], t.a, t.b, t.n_classes)
    maps, directions = _groups(str(sel.cache.root), sel.cache.mtime("activations"), r, k, sel.cache)
    share = evidence.evidence_shares(maps, directions, alpha)[1]
    st.caption(f"The activations of this image factorised into {k} groups of channels that fire "
               f"together (non-negative matrix factorisation, Building Blocks); each group's share "
               f"of the Grad-CAM evidence for {t.text()} (negative: against).")
    colors = [images.GROUP_COLORS[i % len(images.GROUP_COLORS)] for i in range(k)]
    c1, c2 = st.columns([1.1, 2.2])
    if photo is None:
        return
    with c1:
        st.image(images.groups_overlay(photo, maps, colors), width="stretch",
                 caption="Each pixel coloured by its strongest group")
        hexes = ["#%02x%02x%02x" % c for c in colors]
        fig = charts.attribution_bars(share, [f"group {i + 1}" for i in range(k)], colors=hexes,
                                      value_format="+.0%", xaxis_title="share of the evidence")
        st.plotly_chart(fig, width="stretch", theme=None, config={"displayModeBar": False},
                        key="group_bars")
    with c2:
        thumb = small(photo, 200)
        per_row = 4 if k > 3 else k
        for start in range(0, k, per_row):
            cols = st.columns(per_row)
            for col, i in zip(cols, range(start, min(k, start + per_row))):
                col.image(images.tint_overlay(thumb, maps[i], colors[i]), width="stretch",
                          caption=f"group {i + 1} · {share[i]:+.0%}")
    trust.badge("neuron_groups", sel)


@st.cache_data(show_spinner=False)
def _components(root: str, mtime: float, _cache: RunCache) -> np.ndarray:
    return _cache.read_concept_basis()[0].astype(np.float32)


def concepts(sel, row: pd.Series, photo, t: Explained, display: dict) -> None:
    if not (sel.cache.has("concept_basis") and sel.cache.has("concept_maps")):
        st.info(f"No concepts yet: {missing_hint(sel.name, 'concept_maps')}.")
        return
    comps = _components(str(sel.cache.root), sel.cache.mtime("concept_basis"), sel.cache)
    r = int(row["row"])
    alpha = evidence.target_vector(state.array(sel.cache, "gradients")[r], t.a, t.b, t.n_classes)
    order, maps, share = evidence.concept_evidence(state.array(sel.cache, "concept_maps")[r], comps, alpha)
    pictures = featvis_ui.featvis_pictures(sel, [("concept", int(i)) for i in order])
    patches = state.table(sel.cache, "concept_patches") if sel.cache.has("concept_patches") \
        else pd.DataFrame(columns=["concept", "rank", "file"])
    st.caption(f"Dataset-wide concepts (NMF of the whole dataset's activations) found in this "
               f"image, by their share of the evidence for {t.text()}. Each: its feature "
               f"visualisation, where it is in this image, and the dataset patches where it is "
               f"strongest.")
    if photo is None:
        return
    thumb = small(photo, 200)
    names = concept_labels(sel.cache)
    for i in order:
        c1, c2, c3 = st.columns([0.7, 1, 2.6], vertical_alignment="center")
        c1.image(icon(pictures[("concept", int(i))], 96), width="stretch",
                 caption=names.get(int(i), f"concept {i}"))
        c2.image(images.tint_overlay(thumb, maps[i], images.GROUP_COLORS[i % 10]), width="stretch",
                 caption=f"in this image · {share[i]:+.0%}")
        files = patches[patches["concept"] == i].sort_values("rank")["file"].head(6).tolist()
        pics = [str(sel.cache.resolve(f)) for f in files if sel.cache.resolve(f).is_file()]
        if pics:
            c3.image(pics, width=84)
    trust.badge("concepts", sel)


VIEWS = {"channels": ("Channels", channels), "groups": ("Neuron groups", groups),
         "concepts": ("Concepts", concepts)}


def building_blocks(sel, row: pd.Series, photo, t: Explained, display: dict) -> None:
    """One view at a time (not tabs): only the chosen one is computed."""
    st.subheader("Building blocks")
    v0 = state.url_get("blocks", "channels")
    if "w_blocks" not in st.session_state:
        st.session_state["w_blocks"] = v0 if v0 in VIEWS else "channels"
    view = st.segmented_control("View", list(VIEWS), format_func=lambda v: VIEWS[v][0], key="w_blocks",
                                label_visibility="collapsed") or "channels"
    state.url_set(blocks=None if view == "channels" else view)
    VIEWS[view][1](sel, row, photo, t, display)
