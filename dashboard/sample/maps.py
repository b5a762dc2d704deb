"""What the Sample page explains and where the model looks: the target controls (head,
plain Grad-CAM or "why A rather than B"), the prediction, Grad-CAM with the top classes
at a glance, and the pixel-level methods computed on demand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from analysis.explain.cam_views import contrastive_map, gradcam_map
from analysis.explain.targets import Target
from dashboard import links, ondemand, state, trust
from dashboard.figures import charts, images
from dashboard.sample.pictures import small

PRED, SECOND = "__pred__", "__second__"
RIGHT, WRONG = ":green[:material/check_circle:]", ":red[:material/cancel:]"


@dataclass(frozen=True)
class Explained:
    """The target every map and block of the page explains: output A of a head, or A
    rather than B (``b``), with the head's class names and this image's probabilities."""

    a: Target
    b: Target | None
    names: tuple[str, ...]
    probs: np.ndarray
    n_classes: int  # outputs of the city head (group outputs come after them)

    @property
    def head(self) -> str:
        return self.a.head

    @property
    def contrast(self) -> bool:
        return self.b is not None

    def text(self, with_b: bool = True) -> str:
        a = f"**{self.a.label}** ({self.head} head, p = {self.probs[self.a.index]:.1%})"
        if self.b is None or not with_b:
            return a
        return f"{a} rather than **{self.b.label}** (p = {self.probs[self.b.index]:.1%})"


def target_controls(labels, row: pd.Series, probs_c: np.ndarray, probs_g: np.ndarray) -> Explained:
    """Head, view, class A (and B), kept in the URL."""
    c1, c2, c3, c4 = st.columns([1.1, 1.6, 1.6, 1.6])
    heads = ["city", "group"]
    h0 = state.url_get("head", "city")
    head = c1.radio("Head", heads, index=heads.index(h0) if h0 in heads else 0, key="w_head",
                    horizontal=True)
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
    return Explained(Target.of(head, a_i, names), None if b_i is None else Target.of(head, b_i, names),
                     tuple(names), probs, len(labels.classes))


def header(row: pd.Series, run: str | None = None) -> None:
    ok = RIGHT if row["correct"] else WRONG
    gok = RIGHT if row["correct_group"] else WRONG
    st.markdown(
        f"### `{row['id']}` — true **{row['class']}** ({row['group']}), {row['split']} split")
    cities = list(dict.fromkeys([str(row["class"]), str(row["pred_class"])]))
    portraits = (" · what makes a street look like " + " or ".join(links.city_link(run, c) for c in cities) + "?"
                 if run else "")
    st.markdown(f"Predicted **{row['pred_class']}** {row['p_pred']:.1%} {ok} · group "
                f"**{row['pred_group']}** {row['p_group']:.1%} {gok}{portraits}")


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


def gradcam_section(sel, photo, raw: np.ndarray, t: Explained, display: dict) -> None:
    ka = t.a.output(t.n_classes)
    c1, c2 = st.columns([1.15, 2.15])
    if t.contrast:
        if t.a == t.b:
            c1.warning("Pick two different classes for A and B.")
            m = np.zeros(raw.shape[-2:], np.float32)
        else:
            m = contrastive_map(raw, ka, t.b.output(t.n_classes))
        caption = (f"Why {t.a.label} rather than {t.b.label}: "
                   f"ReLU(Grad-CAM raw of {t.a.label} − raw of {t.b.label})")
    else:
        m = gradcam_map(raw, ka)
        caption = f"Grad-CAM of {t.a.label} ({t.head} head, p = {t.probs[t.a.index]:.1%})"
    h, w = raw.shape[-2:]
    layer = sel.run.info.get("backbone", {}).get("target_layer", "")
    with c1:
        if photo is not None:
            st.image(images.overlay(photo, m, display["opacity"], display["cmap"]), width="stretch")
        st.caption(caption)
        extra = f"layer `{layer}`, {h}×{w} map upsampled; " if layer else ""
        note = " The map is empty: no evidence for A over B here." if not np.any(np.asarray(m) > 0) else ""
        st.caption(f"{extra}red = most evidence.{note}")
        trust.badge("gradcam", sel)
    with c2:
        glance(photo, raw, t, display)


def glance(photo, raw: np.ndarray, t: Explained, display: dict) -> None:
    """The five most likely classes' maps (or A against each of them) in one picture."""
    order = np.argsort(-t.probs, kind="stable")[:5]
    st.markdown("**At a glance: the most likely classes**" if not t.contrast else
                f"**Why {t.a.label} rather than each other likely class**")
    if photo is None:
        return
    thumb = small(photo)
    pics, caps = [], []
    for i in (int(i) for i in order):
        other = Target.of(t.head, i, t.names)
        if not t.contrast:
            mm = gradcam_map(raw, other.output(t.n_classes))
        elif i == t.a.index:
            continue
        else:
            mm = contrastive_map(raw, t.a.output(t.n_classes), other.output(t.n_classes))
        pics.append(images.overlay(thumb, mm, display["opacity"], display["cmap"]))
        caps.append(f"{other.label} {t.probs[i]:.0%}" if not t.contrast else f"vs {other.label}")
    # one picture for the five maps: every st.image is an element and an HTTP fetch, and
    # the number of elements is what a sample change costs in the browser; always five
    # cells wide, so with three classes the tiles do not grow to fill the row
    st.image(images.image_grid(pics, ncols=5, cell=160, captions=caps, keep_columns=True), width="stretch")


def ondemand_section(sel, row: pd.Series, photo, t: Explained, display: dict) -> None:
    st.subheader("Pixel-level methods (on demand)")
    c1, c2, c3 = st.columns([1.2, 1, 1])
    with c1:
        method = state.url_selectbox("Method", ondemand.on_demand_methods(), "method",
                                     default="guided_backprop",
                                     format_func=lambda m: ondemand.describe(m)["label"])
        about = ondemand.describe(method)
        label = about["label"]
        kinds = ["magnitude", "signed"]
        style = st.radio("Show", kinds, index=kinds.index(about["display"]),
                         horizontal=True, key=f"w_style_{method}",
                         format_func={"magnitude": "magnitude |value|",
                                      "signed": "signed (red = for, blue = against)"}.get)
        st.caption(f"For {t.text(with_b=False)}. {about['about']}"
                   + (" Pixel-level maps explain one class: class A." if t.contrast else ""))
        values = ondemand.load_cached(sel.cache, method, row["id"], t.a)
        slot = st.empty()
        if values is None:
            if slot.button(f"Compute {label} ({about['cost']})",
                           type="primary", key="compute", icon=":material/play_arrow:"):
                slot.empty()
                try:
                    values, _ = ondemand.st_get_map(sel.cache, sel.run, lambda: state.get_model(sel.run),
                                                    row["id"], sel.image_path(row["path"]), method, t.a)
                    slot.caption("Computed now and saved: the next view is instant.")
                except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
                    slot.error(f"{label} failed on this image: {exc}")
                    values = None
        else:
            slot.caption("Read from the cache (computed earlier).")
    if values is None:
        c2.info(f"{label} for {t.a.label} has not been computed for this image yet.")
        return
    if photo is None:
        return
    signed = style == "signed"
    c2.image(images.map_image(values, signed=signed, size=photo.shape[:2]), width="stretch",
             caption=f"{label} for {t.a.label}" + (" (red = for, blue = against)" if signed
                                                  else " (bright = strong)"))
    opacity = max(display["opacity"], 0.6)
    pic = (images.signed_overlay(photo, values, opacity=opacity) if signed else
           images.magnitude_overlay(photo, values, opacity=opacity, cmap=display["cmap"]))
    with c3:
        st.image(pic, width="stretch", caption="over the photo")
        trust.badge(method, sel)
