"""Choosing the image: filters in the sidebar (split, true / predicted class, right /
wrong, confidence, the group head's, order) and the picker with previous / next / random —
all kept in the URL with the image (``?id=…``), so a view can be shared."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.figures import images

SPLITS = ["all", "train", "val", "test"]
ORDERS = {"dataset": "dataset order", "unsure": "least confident first", "sure": "most confident first",
          "margin": "smallest margin first"}
FILTER_KEYS = ("split", "true", "pred", "ok", "conf", "gtrue", "gpred", "order")
PICKER_WINDOW = 200  # images listed in the picker around the current one


def image_label(r) -> str:
    """"id · class → prediction 93%" (✗ when wrong): how the picker lists an image."""
    return f"{r['id']} · {r['class']} → {r['pred_class']} {r['p_pred']:.0%}" + ("" if r["correct"] else " ✗")


@st.cache_resource(show_spinner=False, max_entries=4)
def id_index(root: str, mtime: float, _samples: pd.DataFrame) -> pd.Index:
    """Image id → position in the samples table (a hash index, built once per table)."""
    return pd.Index(_samples["id"].astype(str).to_numpy())


def position_of(index: pd.Index, image_id: str | None) -> int | None:
    """The samples position of ``image_id`` (None when the analysis has no such image)."""
    if image_id is None:
        return None
    try:
        pos = index.get_loc(image_id)
    except KeyError:
        return None
    return int(pos) if isinstance(pos, (int, np.integer)) else int(np.flatnonzero(pos)[0]) if \
        isinstance(pos, np.ndarray) else int(pos.start)


@st.cache_data(show_spinner=False, max_entries=32)
def filtered_positions(root: str, mtime: float, key: tuple, _samples: pd.DataFrame, _f: dict) -> np.ndarray:
    """Positions (in the samples table) of the images matching filters ``_f`` (``key``: the
    same filters, hashable), in the chosen order: computed once per filter setting."""
    pos = pd.Series(np.arange(len(_samples)), index=_samples.index)
    return pos.loc[apply_filters(_samples, _f).index].to_numpy(np.int64)


def _reset_image() -> None:
    """A filter changed: show the first matching image, not the one in the URL."""
    if "id" in st.query_params:
        del st.query_params["id"]
    st.session_state.pop("w_id", None)


def parse_range(text: str | None) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in str(text).split("-"))
        return (max(0.0, min(lo, hi)), min(1.0, max(lo, hi)))
    except (TypeError, ValueError):
        return (0.0, 1.0)


def apply_filters(samples: pd.DataFrame, f: dict) -> pd.DataFrame:
    """Rows matching the filters ``f`` (keys of ``FILTER_KEYS``), in the chosen order. Pure."""
    m = np.ones(len(samples), dtype=bool)
    if f.get("split", "all") != "all":
        m &= (samples["split"] == f["split"]).to_numpy()
    if f.get("true", "all") != "all":
        m &= (samples["class"] == f["true"]).to_numpy()
    if f.get("pred", "all") != "all":
        m &= (samples["pred_class"] == f["pred"]).to_numpy()
    if f.get("gtrue", "all") != "all":
        m &= (samples["group"] == f["gtrue"]).to_numpy()
    if f.get("gpred", "all") != "all":
        m &= (samples["pred_group"] == f["gpred"]).to_numpy()
    if f.get("ok", "all") == "correct":
        m &= samples["correct"].to_numpy(bool)
    elif f.get("ok", "all") == "wrong":
        m &= ~samples["correct"].to_numpy(bool)
    lo, hi = f.get("conf", (0.0, 1.0))
    if (lo, hi) != (0.0, 1.0):
        p = samples["p_pred"].to_numpy()
        m &= (p >= lo - 1e-9) & (p <= hi + 1e-9)
    out = samples[m]
    order = f.get("order", "dataset")
    if order == "unsure":
        out = out.sort_values("p_pred", kind="stable")
    elif order == "sure":
        out = out.sort_values("p_pred", ascending=False, kind="stable")
    elif order == "margin":
        out = out.sort_values("margin", kind="stable")
    return out


def sidebar_filters(labels) -> dict:
    sb = st.sidebar
    sb.markdown("**Choose an image**")
    f = {
        "split": state.url_selectbox("Split", SPLITS, "split", default="all", container=sb,
                                     on_change=_reset_image),
        "true": state.url_selectbox("True class", ["all", *labels.classes], "true", default="all",
                                    container=sb, on_change=_reset_image),
        "pred": state.url_selectbox("Predicted class", ["all", *labels.classes], "pred", default="all",
                                    container=sb, on_change=_reset_image),
        "ok": state.url_selectbox("Prediction", ["all", "correct", "wrong"], "ok", default="all",
                                  container=sb, on_change=_reset_image),
    }
    lo, hi = parse_range(state.url_get("conf"))
    if "w_conf" not in st.session_state:
        st.session_state["w_conf"] = (lo, hi)
    lo, hi = sb.slider("Confidence of the prediction", 0.0, 1.0, step=0.01, key="w_conf",
                       on_change=_reset_image, format="%.2f")
    f["conf"] = (round(lo, 2), round(hi, 2))
    state.url_set(conf=None if f["conf"] == (0.0, 1.0) else f"{lo:.2f}-{hi:.2f}")
    with sb.expander("Group head, order"):
        f["gtrue"] = state.url_selectbox("True group", ["all", *labels.groups], "gtrue", default="all",
                                         on_change=_reset_image)
        f["gpred"] = state.url_selectbox("Predicted group", ["all", *labels.groups], "gpred",
                                         default="all", on_change=_reset_image)
        f["order"] = state.url_selectbox("Order", list(ORDERS), "order", default="dataset",
                                         format_func=ORDERS.get, on_change=_reset_image)
    return f


def go_to(image_id: str) -> None:
    st.query_params["id"] = image_id
    st.session_state["w_id"] = image_id


def _picked() -> None:
    state.url_set(id=st.session_state.get("w_id"))


def pick_image(samples: pd.DataFrame, matches: np.ndarray, index: pd.Index) -> int | None:
    """The image picker (selectbox + previous / next / random) over the samples positions
    ``matches``; returns the chosen image's position in ``samples``. Only the listed window
    of images gets labels: nothing here is proportional to the table's size but one integer
    comparison."""
    ids = samples["id"]
    asked = state.url_get("id")
    current = position_of(index, asked)
    if current is None:
        if asked:
            st.warning(f"No image `{asked}` in this run's analysis; showing the first match.")
        current = int(matches[0]) if len(matches) else None
    if current is None:
        return None
    current_id = str(ids.iat[current])
    # the list holds at most PICKER_WINDOW images around the current one: a selectbox of
    # thousands of options costs ~0.1 s of browser time on every image change
    found = np.flatnonzero(matches == current)
    pos = int(found[0]) if len(found) else -1
    n = len(matches)
    lo = max(0, min(pos - PICKER_WINDOW // 2, n - PICKER_WINDOW)) if pos >= 0 else 0
    window = matches[lo:lo + PICKER_WINDOW]
    shown = window if pos >= 0 else np.concatenate([[current], window])
    labels = {str(ids.iat[int(p)]): image_label(samples.iloc[int(p)]) for p in shown}
    options = list(labels)
    if st.session_state.get("w_id") != current_id:
        st.session_state["w_id"] = current_id
    state.url_set(id=current_id)
    c1, c2, c3, c4 = st.columns([6, 1, 1, 1], vertical_alignment="bottom")
    more = "" if len(window) == n else f"; the list shows {lo + 1}–{lo + len(window)}, the arrows go on"
    c1.selectbox(f"Image ({n} of {len(samples)} match the filters{more})", options,
                 key="w_id", format_func=lambda i: labels.get(i, i), on_change=_picked)
    if n:
        prev_id = str(ids.iat[int(matches[pos - 1] if pos > 0 else matches[-1])])
        next_id = str(ids.iat[int(matches[pos + 1] if 0 <= pos < n - 1 else matches[0])])
        c2.button("", icon=":material/chevron_left:", help="Previous image", on_click=go_to,
                  args=(prev_id,), width="stretch", key="prev")
        c3.button("", icon=":material/chevron_right:", help="Next image", on_click=go_to,
                  args=(next_id,), width="stretch", key="next")
        rnd = str(ids.iat[int(matches[int(np.random.default_rng().integers(n))])])
        c4.button("", icon=":material/shuffle:", help="A random image of the selection",
                  on_click=go_to, args=(rnd,), width="stretch", key="random")
    if pos < 0:
        st.caption("This image is outside the current filters.")
    return current


def display_settings() -> dict:
    sb = st.sidebar
    sb.markdown("**Display**")
    opacity = sb.slider("Map opacity", 0.0, 1.0, 0.5, 0.05, key="w_opacity")
    cmap = sb.selectbox("Colour map", list(images.CMAPS), key="w_cmap",
                        help="jet: as pytorch-grad-cam; turbo: a smoother jet; inferno / viridis: "
                             "perceptually uniform.")
    return {"opacity": opacity, "cmap": cmap}
