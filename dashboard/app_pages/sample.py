"""Sample: one image, what the model predicts, and why — Building Blocks style.

Pick an image (filters in the sidebar: split, true / predicted class, right / wrong,
confidence range, and the group head's; all kept in the URL with the image, ``?id=…``, so a
view can be shared). Then:

* the photo and the prediction bars of both heads (the true class marked);
* Grad-CAM for any class of either head (default: the prediction), or the contrastive
  "why A rather than B" map ReLU(raw_A − raw_B), with the top classes at a glance;
* pixel-level methods on demand (guided backprop, guided Grad-CAM, integrated gradients):
  computed once through the method registry, then read from the cache (``dashboard/ondemand.py``);
* building blocks for the chosen target: the channels that push towards it in THIS image
  (feature-visualisation icons, attribution bars, where each fires), the image's own
  neuron groups (per-image NMF) with their share of the attribution, and the dataset
  concepts present in it;
* its nearest training images, with their class and whether the model got them right.

Everything reads the memory-mapped analysis cache; only the shown image's maps are upsampled.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import ondemand, state
from dashboard.figures import charts, images

PRED, SECOND = "__pred__", "__second__"
SPLITS = ["all", "train", "val", "test"]
ORDERS = {"dataset": "dataset order", "unsure": "least confident first", "sure": "most confident first",
          "margin": "smallest margin first"}
FILTER_KEYS = ("split", "true", "pred", "ok", "conf", "gtrue", "gpred", "order")
RIGHT, WRONG = ":green[:material/check_circle:]", ":red[:material/cancel:]"
GREEN, RED = (46, 160, 67), (215, 58, 73)  # neighbour frames: classified right / wrong
PICKER_WINDOW = 200  # images listed in the picker around the current one
PHOTO_SIDE = 448  # the photo and its maps are shown at most this big (longest side, px)


# ------------------------------------------------------------------------ helpers
def trust_badge(method: str, sel=None) -> None:
    """The reliability badge of ``method`` next to its map, when ``dashboard/trust.py`` exists."""
    if importlib.util.find_spec("dashboard.trust") is None:
        return
    from dashboard import trust

    try:
        trust.badge(method, sel)
    except TypeError:  # a badge(method) without the selection
        trust.badge(method)


@st.cache_data(show_spinner=False, max_entries=256)
def display_photo(path: str, max_side: int = PHOTO_SIDE) -> np.ndarray | None:
    """The photo at display size (longest side ≤ ``max_side``), or None if unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((max_side, max_side), Image.BILINEAR)
            return np.asarray(im)
    except OSError:
        return None


@st.cache_data(show_spinner=False)
def _labels(root: str, mtime: float, _samples: pd.DataFrame) -> dict[str, str]:
    """Image id → "id · class → prediction 93%" for the image picker (keyed by the table's
    path and mtime; the frame itself is not hashed)."""
    samples = _samples
    out = {}
    for i, c, p, conf, ok in zip(samples["id"], samples["class"], samples["pred_class"],
                                 samples["p_pred"], samples["correct"]):
        out[i] = f"{i} · {c} → {p} {conf:.0%}" + ("" if ok else " ✗")
    return out


@st.cache_data(show_spinner=False)
def _featvis(root: str, mtime: float) -> dict[tuple[str, int], str]:
    """(kind, index) → featvis file, for the icons."""
    p = Path(root) / "featvis.parquet"
    if not p.is_file():
        return {}
    df = pd.read_parquet(p)
    return {(k, int(i)): str(Path(root) / f) for k, i, f in zip(df["kind"], df["index"], df["file"])
            if (Path(root) / f).is_file()}


def featvis_icons(sel) -> dict[tuple[str, int], str]:
    p = sel.cache.root / "featvis.parquet"
    return _featvis(str(sel.cache.root), p.stat().st_mtime if p.exists() else 0.0)


@st.cache_data(show_spinner=False)
def _icon(path: str | None, text: str, size: int = 64) -> np.ndarray:
    if path:
        try:
            return images.to_rgb_array(images.fit_square(path, size))
        except OSError:
            pass
    return images.to_rgb_array(images.placeholder_icon(size, text))


@st.cache_data(show_spinner=False, max_entries=512)
def neuron_groups(root: str, mtime: float, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image NMF of the stored activations (Building Blocks' neuron groups)."""
    from analysis.explain.factorize import neuron_groups as nmf_groups

    acts = np.load(Path(root) / "activations.npy", mmap_mode="r")
    return nmf_groups(np.asarray(acts[row], dtype=np.float32), k=k)


@st.cache_data(show_spinner=False)
def _components(path: str, mtime: float) -> np.ndarray:
    return np.load(path).astype(np.float32)


def components(sel) -> np.ndarray | None:
    p = sel.cache.root / "concepts" / "components.npy"
    return _components(str(p), p.stat().st_mtime) if p.is_file() else None


def has(sel, name: str) -> bool:
    return (sel.cache.root / name).exists()


# ------------------------------------------------------------------------ filters
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


def _go_to(image_id: str) -> None:
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
        c2.button("", icon=":material/chevron_left:", help="Previous image", on_click=_go_to,
                  args=(prev_id,), width="stretch", key="prev")
        c3.button("", icon=":material/chevron_right:", help="Next image", on_click=_go_to,
                  args=(next_id,), width="stretch", key="next")
        rnd = ids[int(np.random.default_rng().integers(len(ids)))]
        c4.button("", icon=":material/shuffle:", help="A random image of the selection",
                  on_click=_go_to, args=(rnd,), width="stretch", key="random")
    if pos < 0:
        st.caption("This image is outside the current filters.")
    return current


# ------------------------------------------------------------------- target choice
def target_controls(labels, row: pd.Series, probs_c: np.ndarray, probs_g: np.ndarray) -> dict:
    """Head, view, class A (and B): what every map of the page explains."""
    c1, c2, c3, c4 = st.columns([1.1, 1.6, 1.6, 1.6])
    heads = ["city", "group"]
    h0 = state.url_get("head", "city")
    head = c1.radio("Head", heads, index=heads.index(h0) if h0 in heads else 0, key="w_head",
                    horizontal=True, format_func={"city": "city", "group": "group"}.get)
    state.url_set(head=None if head == "city" else head)
    views = ["cam", "contrast"]
    v0 = state.url_get("view", "cam")
    view = c2.radio("View", views, index=views.index(v0) if v0 in views else 0, key="w_view",
                    horizontal=True,
                    format_func={"cam": "Grad-CAM", "contrast": "why A rather than B"}.get)
    state.url_set(view=None if view == "cam" else view)
    names = list(labels.classes if head == "city" else labels.groups)
    probs = probs_c if head == "city" else probs_g
    order = np.argsort(-probs, kind="stable")
    pred_i, second_i = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
    ka, kb = ("cls", "vs") if head == "city" else ("gcls", "gvs")
    a = state.url_selectbox("Class A" if view == "contrast" else "Class", [PRED, *names], ka,
                            default=PRED, container=c3,
                            format_func=lambda o: f"predicted ({names[pred_i]})" if o == PRED else o)
    a_i = pred_i if a == PRED else names.index(a)
    b_i = None
    if view == "contrast":
        # default B: the true class when the model is wrong ("why X and not the truth?"),
        # else the runner-up
        true_i = int(row["y_class"] if head == "city" else row["y_group"])
        if a_i == pred_i and true_i != pred_i:
            default_b, default_text = true_i, f"true class ({names[true_i]})"
        else:
            default_b = second_i if a_i == pred_i else pred_i
            default_text = (f"runner-up ({names[default_b]})" if a_i == pred_i
                            else f"predicted ({names[default_b]})")
        b = state.url_selectbox("rather than B", [SECOND, *names], kb, default=SECOND, container=c4,
                                format_func=lambda o: default_text if o == SECOND else o)
        b_i = default_b if b == SECOND else names.index(b)
    offset = 0 if head == "city" else len(labels.classes)
    return {"head": head, "view": view, "names": names, "probs": probs, "a": a_i, "b": b_i,
            "ka": offset + a_i, "kb": None if b_i is None else offset + b_i, "offset": offset}


def target_text(t: dict) -> str:
    names, probs = t["names"], t["probs"]
    a = f"**{names[t['a']]}** ({t['head']} head, p = {probs[t['a']]:.1%})"
    if t["b"] is None:
        return a
    return f"{a} rather than **{names[t['b']]}** (p = {probs[t['b']]:.1%})"


def target_vector(arr_row: np.ndarray, t: dict) -> np.ndarray:
    """A per-output vector (K, C) row reduced to the target: output A, or A − B."""
    v = np.asarray(arr_row[t["ka"]], dtype=np.float32)
    if t["kb"] is not None:
        v = v - np.asarray(arr_row[t["kb"]], dtype=np.float32)
    return v


# -------------------------------------------------------------------------- sections
def header(row: pd.Series) -> None:
    ok = RIGHT if row["correct"] else WRONG
    gok = RIGHT if row["correct_group"] else WRONG
    st.markdown(
        f"### `{row['id']}` — true **{row['class']}** ({row['group']}), {row['split']} split")
    st.markdown(f"Predicted **{row['pred_class']}** {row['p_pred']:.1%} {ok} · group "
                f"**{row['pred_group']}** {row['p_group']:.1%} {gok}")


def predictions(photo, row, labels, probs_c, probs_g) -> None:
    c1, c2, c3 = st.columns([1.15, 1.25, 0.9])
    with c1:
        if photo is None:
            st.image(images.to_rgb_array(images.placeholder_icon(224, "missing")), width="stretch")
            st.warning("The image file is missing.")
        else:
            st.image(photo, width="stretch", caption=row["path"])
    top = min(len(labels.classes), 10)
    # HTML, not plotly: redrawn on every image change (see charts.html_prediction_bars)
    c2.markdown(charts.html_prediction_bars(probs_c, labels.classes, true=row["class"], top=top,
                                            title="City"), unsafe_allow_html=True)
    c3.markdown(charts.html_prediction_bars(probs_g, labels.groups, true=row["group"], title="Group",
                                            width_px=80), unsafe_allow_html=True)


def gradcam_section(sel, photo, raw: np.ndarray, t: dict, display: dict) -> None:
    from analysis.explain.gradcam import contrastive_map, gradcam_map

    names = t["names"]
    c1, c2 = st.columns([1.15, 2.15])
    if t["view"] == "contrast":
        if t["a"] == t["b"]:
            c1.warning("Pick two different classes for A and B.")
            m = np.zeros(raw.shape[-2:], np.float32)
        else:
            m = contrastive_map(raw, t["ka"], t["kb"])
        caption = (f"Why {names[t['a']]} rather than {names[t['b']]}: "
                   f"ReLU(Grad-CAM raw of {names[t['a']]} − raw of {names[t['b']]})")
    else:
        m = gradcam_map(raw, t["ka"])
        caption = f"Grad-CAM of {names[t['a']]} ({t['head']} head, p = {t['probs'][t['a']]:.1%})"
    h, w = raw.shape[-2:]
    layer = sel.run.info.get("backbone", {}).get("target_layer", "")
    with c1:
        if photo is not None:
            st.image(images.overlay(photo, m, display["opacity"], display["cmap"]), width="stretch")
        st.caption(caption)
        extra = f"layer `{layer}`, {h}×{w} map upsampled; " if layer else ""
        note = " The map is empty: no evidence for A over B here." if not np.any(np.asarray(m) > 0) else ""
        st.caption(f"{extra}red = most evidence.{note}")
        trust_badge("gradcam", sel)
    with c2:
        order = np.argsort(-t["probs"], kind="stable")[:5]
        st.markdown("**At a glance: the most likely classes**" if t["view"] == "cam" else
                    f"**Why {names[t['a']]} rather than each other likely class**")
        if photo is None:
            return
        pics, caps = [], []
        for i in order:
            if t["view"] == "cam":
                mm = gradcam_map(raw, t["offset"] + int(i))
            else:
                if int(i) == t["a"]:
                    continue
                mm = contrastive_map(raw, t["ka"], t["offset"] + int(i))
            small = display_photo_small(photo)
            pics.append(images.overlay(small, mm, display["opacity"], display["cmap"]))
            caps.append(f"{names[i]} {t['probs'][i]:.0%}" if t["view"] == "cam" else f"vs {names[i]}")
        # one picture for the five maps: every st.image is an element and an HTTP fetch, and
        # the number of elements is what a sample change costs in the browser
        # always five cells wide: with three classes the tiles must not grow to fill the row
        st.image(images.image_grid(pics, ncols=5, cell=160, captions=caps, keep_columns=True),
                 width="stretch")


def display_photo_small(photo: np.ndarray, side: int = 160) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray(photo)
    im.thumbnail((side, side), Image.BILINEAR)
    return np.asarray(im)


def ondemand_section(sel, row: pd.Series, photo, t: dict, display: dict) -> None:
    st.subheader("Pixel-level methods (on demand)")
    names = t["names"]
    c1, c2, c3 = st.columns([1.2, 1, 1])
    with c1:
        method = state.url_selectbox("Method", list(ondemand.METHODS), "method",
                                     default="guided_backprop",
                                     format_func=lambda m: ondemand.LABELS.get(m, m))
        label = ondemand.LABELS.get(method, method)
        kinds = ["magnitude", "signed"]
        style = st.radio("Show", kinds, index=kinds.index(ondemand.DISPLAY.get(method, "magnitude")),
                         horizontal=True, key=f"w_style_{method}",
                         format_func={"magnitude": "magnitude |value|",
                                      "signed": "signed (red = for, blue = against)"}.get)
        st.caption(f"For {target_text({**t, 'b': None})}. {ondemand.ABOUT.get(method, '')}"
                   + (" Pixel-level maps explain one class: class A." if t["view"] == "contrast" else ""))
        cache_root = sel.cache.root
        values = ondemand.load_cached(cache_root, method, row["id"], t["head"], t["a"])
        slot = st.empty()
        if values is None:
            if slot.button(f"Compute {label} ({ondemand.COST.get(method, 'about a second')})",
                           type="primary", key="compute", icon=":material/play_arrow:"):
                slot.empty()
                try:
                    values, _ = ondemand.st_get_map(cache_root, sel.run, lambda: state.get_model(sel.run),
                                                    row["id"], sel.image_path(row["path"]), method,
                                                    t["head"], t["a"])
                    slot.caption("Computed now and saved: the next view is instant.")
                except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
                    slot.error(f"{label} failed on this image: {exc}")
                    values = None
        else:
            slot.caption("Read from the cache (computed earlier).")
    if values is None:
        c2.info(f"{label} for {names[t['a']]} has not been computed for this image yet.")
        return
    if photo is None:
        return
    signed = style == "signed"
    c2.image(images.map_image(values, signed=signed, size=photo.shape[:2]), width="stretch",
             caption=f"{label} for {names[t['a']]}" + (" (red = for, blue = against)" if signed
                                                         else " (bright = strong)"))
    opacity = max(display["opacity"], 0.6)
    pic = (images.signed_overlay(photo, values, opacity=opacity) if signed else
           images.magnitude_overlay(photo, values, opacity=opacity, cmap=display["cmap"]))
    with c3:
        st.image(pic, width="stretch", caption="over the photo")
        trust_badge(method, sel)


def channels_tab(sel, row: pd.Series, photo, t: dict, display: dict) -> None:
    attr = state.array(sel.cache, "channel_attr.npy")
    acts = state.array(sel.cache, "activations.npy")
    v = target_vector(attr[int(row["row"])], t)
    n = 8
    top = np.argsort(-v, kind="stable")[:n]
    top = [int(c) for c in top if v[c] > 0] or [int(c) for c in top]
    icons = featvis_icons(sel)
    icon_imgs = [_icon(icons.get(("channel", c)), f"ch {c}", 40) for c in top]
    st.caption(f"The feature-map channels whose gradient × activation pushes most towards "
               f"{target_text(t)} in this image. Icons: feature visualisations (grey: none rendered "
               f"for that channel).")
    c1, c2 = st.columns([1.1, 1.4])
    with c1:
        st.markdown(charts.html_bars(v[top], [f"channel {c}" for c in top], value_format="+.3f",
                                     width_px=160, icons=icon_imgs, icon_px=40),
                    unsafe_allow_html=True)
    with c2:
        st.markdown("**Where each channel fires in this image**")
        if photo is None:
            return
        small = display_photo_small(photo)
        a = np.asarray(acts[int(row["row"])][top], dtype=np.float32)
        pics = [images.overlay(small, np.clip(m, 0, None), display["opacity"], display["cmap"], mode="mask")
                for m in a]
        st.image(images.image_grid(pics, ncols=4, cell=160,
                                   captions=[f"channel {c} · {v[c]:+.3f}" for c in top]),
                 width="stretch")


def groups_tab(sel, row: pd.Series, photo, t: dict, display: dict) -> None:
    k = st.slider("Number of neuron groups", 2, 8, 5, key="w_groups")
    mtime = (sel.cache.root / "activations.npy").stat().st_mtime
    maps, dirs = neuron_groups(str(sel.cache.root), mtime, int(row["row"]), k)
    grads = state.array(sel.cache, "gradients.npy")
    alpha = target_vector(grads[int(row["row"])], t)
    contrib = maps.reshape(len(maps), -1).sum(1) * (dirs @ alpha)  # Σ_xy U_g · (W_g · α)
    total = np.abs(contrib).sum()
    share = contrib / total if total > 0 else np.zeros_like(contrib)
    st.caption(f"The activations of this image factorised into {k} groups of channels that fire "
               f"together (non-negative matrix factorisation, Building Blocks); each group's share "
               f"of the Grad-CAM evidence for {target_text(t)} (negative: against).")
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
        small = display_photo_small(photo, 200)
        per_row = 4 if k > 3 else k
        for start in range(0, k, per_row):
            cols = st.columns(per_row)
            for col, i in zip(cols, range(start, min(k, start + per_row))):
                col.image(images.tint_overlay(small, maps[i], colors[i]), width="stretch",
                          caption=f"group {i + 1} · {share[i]:+.0%}")
    trust_badge("neuron_groups", sel)


def concepts_tab(sel, row: pd.Series, photo, t: dict, display: dict) -> None:
    comps = components(sel)
    if comps is None or not has(sel, "concept_maps.npy"):
        st.info(f"No concepts yet: `streetlens analyze {sel.run.name} --stages concepts`.")
        return
    cmaps = state.array(sel.cache, "concept_maps.npy")
    grads = state.array(sel.cache, "gradients.npy")
    r = int(row["row"])
    maps = np.asarray(cmaps[r], dtype=np.float32)
    alpha = target_vector(grads[r], t)
    contrib = maps.reshape(len(maps), -1).sum(1) * (comps @ alpha)
    total = np.abs(contrib).sum()
    share = contrib / total if total > 0 else np.zeros_like(contrib)
    order = [int(i) for i in np.argsort(-contrib, kind="stable")[:4]]
    icons = featvis_icons(sel)
    patches = state.table(sel.cache, "concept_patches.parquet") if has(sel, "concept_patches.parquet") \
        else pd.DataFrame(columns=["concept", "rank", "file"])
    st.caption(f"Dataset-wide concepts (NMF of the whole dataset's activations) found in this "
               f"image, by their share of the evidence for {target_text(t)}. Each: its feature "
               f"visualisation, where it is in this image, and the dataset patches where it is "
               f"strongest.")
    if photo is None:
        return
    small = display_photo_small(photo, 200)
    for i in order:
        c1, c2, c3 = st.columns([0.7, 1, 2.6], vertical_alignment="center")
        c1.image(_icon(icons.get(("concept", i)), f"concept {i}", 96), width="stretch",
                 caption=f"concept {i}")
        c2.image(images.tint_overlay(small, maps[i], images.GROUP_COLORS[i % 10]), width="stretch",
                 caption=f"in this image · {share[i]:+.0%}")
        files = patches[patches["concept"] == i].sort_values("rank")["file"].head(6).tolist()
        pics = [str(sel.cache.root / f) for f in files if (sel.cache.root / f).is_file()]
        if pics:
            c3.image(pics, width=84)
    trust_badge("concepts", sel)


def neighbours_section(sel, samples: pd.DataFrame, row: pd.Series) -> None:
    st.subheader("Nearest training images")
    if not has(sel, "neighbors.npy"):
        st.info(f"Not computed yet: `streetlens analyze {sel.run.name} --stages map`.")
        return
    nb = state.array(sel.cache, "neighbors.npy")[int(row["row"])]
    st.caption("Closest in the model's feature space (cosine distance of the pooled features), "
               "nearest first.")
    rows = samples.set_index("row", drop=False)
    found = [rows.loc[j] for j in (int(x) for x in nb) if j in rows.index]
    if not found:
        return
    pics = [neighbour_thumbnail(str(sel.image_path(r["path"]))) for r in found]
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
        _go_to(options[choice])


@st.cache_data(show_spinner=False, max_entries=512)
def neighbour_thumbnail(path: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(state.thumbnail_bytes(path))) as im:
            return np.asarray(im.convert("RGB"))
    except OSError:
        return images.to_rgb_array(images.placeholder_icon(160, "missing"))


def display_settings() -> dict:
    sb = st.sidebar
    sb.markdown("**Display**")
    opacity = sb.slider("Map opacity", 0.0, 1.0, 0.5, 0.05, key="w_opacity")
    cmap = sb.selectbox("Colour map", list(images.CMAPS), key="w_cmap",
                        help="jet: as pytorch-grad-cam; turbo: a smoother jet; inferno / viridis: "
                             "perceptually uniform.")
    return {"opacity": opacity, "cmap": cmap}


# ------------------------------------------------------------------------------ page
def main() -> None:
    st.title("Sample")
    sel = state.require_analysis(state.select_run())
    samples = sel.samples()
    labels = sel.labels
    f = sidebar_filters(labels)
    display = display_settings()
    filtered = apply_filters(samples, f)
    sp = sel.cache.root / "samples.parquet"
    labels_by_id = _labels(str(sp), sp.stat().st_mtime, samples)
    sample_view(sel, samples, filtered, labels_by_id, display)


@st.fragment
def sample_view(sel, samples: pd.DataFrame, filtered: pd.DataFrame, labels_by_id: dict,
                display: dict) -> None:
    """Everything about the chosen image. A fragment: the picker's buttons, the map
    controls and "open a neighbour" rerun only this part, not the sidebar's filters and
    the run selector (a sample change then sends fewer elements to the browser)."""
    labels = sel.labels
    image_id = pick_image(samples, filtered, labels_by_id)
    if image_id is None:
        st.info("No image matches these filters.")
        return
    row = samples.loc[samples["id"] == image_id].iloc[0]
    r = int(row["row"])
    probs_c = np.asarray(state.array(sel.cache, "class_probs.npy")[r], dtype=np.float32)
    probs_g = np.asarray(state.array(sel.cache, "group_probs.npy")[r], dtype=np.float32)
    photo = display_photo(str(sel.image_path(row["path"])))

    header(row)
    predictions(photo, row, labels, probs_c, probs_g)

    st.subheader("Where does the model look?")
    t = target_controls(labels, row, probs_c, probs_g)
    raw = np.asarray(state.array(sel.cache, "cams.npy")[r], dtype=np.float32)
    gradcam_section(sel, photo, raw, t, display)

    ondemand_section(sel, row, photo, t, display)

    st.subheader("Building blocks")
    # one view at a time (not tabs): only the chosen one is computed
    views = {"channels": "Channels", "groups": "Neuron groups", "concepts": "Concepts"}
    v0 = state.url_get("blocks", "channels")
    if "w_blocks" not in st.session_state:
        st.session_state["w_blocks"] = v0 if v0 in views else "channels"
    view = st.segmented_control("View", list(views), format_func=views.get, key="w_blocks",
                                label_visibility="collapsed") or "channels"
    state.url_set(blocks=None if view == "channels" else view)
    {"channels": channels_tab, "groups": groups_tab, "concepts": concepts_tab}[view](
        sel, row, photo, t, display)

    neighbours_section(sel, samples, row)


if __name__ == "__main__":
    main()
