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


@st.cache_data(show_spinner=False)
def picker_labels(root: str, mtime: float, _samples: pd.DataFrame) -> dict[str, str]:
    """Image id → "id · class → prediction 93%" for the image picker (keyed by the table's
    path and mtime; the frame itself is not hashed)."""
    samples = _samples
    out = {}
    for i, c, p, conf, ok in zip(samples["id"], samples["class"], samples["pred_class"],
                                 samples["p_pred"], samples["correct"]):
        out[i] = f"{i} · {c} → {p} {conf:.0%}" + ("" if ok else " ✗")
    return out


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


def pick_image(samples: pd.DataFrame, filtered: pd.DataFrame, labels_by_id: dict) -> str | None:
    """The image picker (selectbox + previous / next / random); returns the chosen id."""
    ids = filtered["id"].tolist()
    current = state.url_get("id")
    if current not in labels_by_id:
        if current:
            st.warning(f"No image `{current}` in this run's analysis; showing the first match.")
        current = ids[0] if ids else None
    if current is None:
        return None
    # the list holds at most PICKER_WINDOW images around the current one: a selectbox of
    # thousands of options costs ~0.1 s of browser time on every image change
    pos = ids.index(current) if current in ids else -1
    lo = max(0, min(pos - PICKER_WINDOW // 2, len(ids) - PICKER_WINDOW)) if pos >= 0 else 0
    window = ids[lo:lo + PICKER_WINDOW]
    options = window if current in window else [current, *window]
    if st.session_state.get("w_id") != current:
        st.session_state["w_id"] = current
    state.url_set(id=current)
    c1, c2, c3, c4 = st.columns([6, 1, 1, 1], vertical_alignment="bottom")
    shown = "" if len(window) == len(ids) else \
        f"; the list shows {lo + 1}–{lo + len(window)}, the arrows go on"
    c1.selectbox(f"Image ({len(ids)} of {len(samples)} match the filters{shown})", options,
                 key="w_id", format_func=lambda i: labels_by_id.get(i, i), on_change=_picked)
    if ids:
        prev_id = ids[pos - 1] if pos > 0 else ids[-1]
        next_id = ids[pos + 1] if 0 <= pos < len(ids) - 1 else ids[0]
        c2.button("", icon=":material/chevron_left:", help="Previous image", on_click=go_to,
                  args=(prev_id,), width="stretch", key="prev")
        c3.button("", icon=":material/chevron_right:", help="Next image", on_click=go_to,
                  args=(next_id,), width="stretch", key="next")
        rnd = ids[int(np.random.default_rng().integers(len(ids)))]
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
