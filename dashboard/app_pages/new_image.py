"""New image: what the selected run makes of a photo you upload.

The file goes through the same checks as an import (``analysis.data.images.load_clean``:
full decode, EXIF orientation, any colour mode; corrupt files, files over the upload
limit, pictures over 64 MP and decompression bombs are refused with one line). Then, on
the fly with the run's model (one trunk pass, ``all_class_cams``):

* above the prediction, a warning when the photo looks unlike any training photo: the
  mean cosine distance of its pooled features to its nearest training images is above
  the run's threshold calibrated on the validation split (stage ``ood``);
* prediction bars of both heads;
* Grad-CAM for the top cities and for the predicted group;
* the nearest training images by cosine similarity of the pooled features (the same
  features the analysis stores), with their city and whether the model got them right.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from analysis.data.images import ImageRejected
from analysis.data.upload import load_upload
from analysis.explain.embedding import TrainingIndex
from analysis.explain.ood import OodCheck, Verdict
from analysis.explain.upload import PhotoExplanation, explain_photo
from analysis.precompute.ood_check import load_ood_check
from dashboard import export_ui, links, state
from dashboard.figures import charts, images

TYPES = ["jpg", "jpeg", "png", "webp"]
TOP_MAPS = 3
N_NEIGHBOURS = 8
CHART_CONFIG = {"displayModeBar": False}


def upload_limit_mb() -> int:
    """The server's upload limit (``server.maxUploadSize`` in .streamlit/config.toml)."""
    try:
        return int(st.get_option("server.maxUploadSize"))
    except Exception:  # noqa: BLE001 - outside a server
        return 200


@dataclass
class Analysis(PhotoExplanation):
    note: str = ""


def analyse(digest: str, data: bytes, name: str, run_name: str, model_mtime: float,
            limit_mb: int, model=None) -> Analysis:
    """Clean, predict and explain one upload (cached by its bytes and the model)."""
    return Analysis(**_analyse(digest, data, name, run_name, model_mtime, limit_mb, model))


@st.cache_data(show_spinner=False, max_entries=16)
def _analyse(digest: str, _data: bytes, name: str, run_name: str, model_mtime: float,
             limit_mb: int, _model=None) -> dict:
    """``analyse`` as plain values (what st.cache_data can pickle)."""
    run = state.get_run(run_name)
    img, note = load_upload(name, _data, limit_mb)
    model = _model if _model is not None else state.get_model(run)
    return {**asdict(explain_photo(run, model, img)), "note": note}


@st.cache_resource(show_spinner=False, max_entries=4)
def training_index(cache_root: str, mtime: float, _sel: state.Selection) -> TrainingIndex:
    """The run's training images' features, indexed once per cache version."""
    return TrainingIndex.from_samples(_sel.samples(), _sel.cache.features())


@st.cache_resource(show_spinner=False, max_entries=4)
def _ood_check(cache_root: str, mtimes: tuple, _sel: state.Selection) -> tuple[OodCheck | None, str | None]:
    """The run's calibrated out-of-distribution check (or the line saying how to get it),
    once per cache and model version."""
    index = training_index(str(_sel.cache.root), mtimes[0], _sel) if _sel.cache.has("features") else None
    return load_ood_check(_sel.cache, _sel.run, index=index)


def ood_verdict(sel: state.Selection, a: Analysis) -> tuple[Verdict | None, str | None]:
    """The photo checked against the run's calibrated threshold, or a line saying how to
    compute the calibration."""
    cache = sel.cache
    mtimes = (cache.mtime("features"), cache.mtime("ood_calibration"), sel.run.files.model.stat().st_mtime)
    check, note = _ood_check(str(cache.root), mtimes, sel)
    if check is None:
        return None, note
    try:
        return check.assess(a.pooled), None
    except ValueError as exc:  # features of another model: the page warns about the stale analysis
        return None, str(exc)


def show(sel: state.Selection, a: Analysis, name: str) -> None:
    labels = sel.labels
    classes, groups = list(labels.classes), list(labels.groups)
    kc = len(classes)
    top = np.argsort(-a.class_probs, kind="stable")
    pred, gpred = classes[int(top[0])], groups[int(np.argmax(a.group_probs))]
    verdict, note = ood_verdict(sel, a)
    if verdict is not None and verdict.flagged:
        st.warning(verdict.text, icon="⚠️")
    st.subheader(f"Prediction: {pred} ({a.class_probs[top[0]]:.0%}) · {gpred} "
                 f"({a.group_probs.max():.0%})")
    st.markdown(f"What makes a street look like {links.city_link(sel.name, pred)}? See its portrait.")
    if verdict is not None and not verdict.flagged:
        st.caption(verdict.text)
    elif note:
        st.info(note)
    c1, c2, c3 = st.columns([1.2, 1.2, 1])
    with c1:
        st.image(a.photo, width="stretch", caption=f"{name} ({a.note})")
    with c2:
        fig = charts.prediction_bars(a.class_probs, classes, top=min(8, kc), title="City")
        st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="new_bars_city")
        export_ui.download_buttons(fig, f"prediction-city-{Path(name).stem}")
    with c3:
        fig_g = charts.prediction_bars(a.group_probs, groups, title="Group")
        st.plotly_chart(fig_g, width="stretch", theme=None, config=CHART_CONFIG, key="new_bars_group")
        export_ui.download_buttons(fig_g, f"prediction-group-{Path(name).stem}")

    st.subheader("Why: Grad-CAM")
    ks = [int(k) for k in top[:min(TOP_MAPS, kc)]]
    g = int(np.argmax(a.group_probs))
    pics = [images.gradcam_overlay(a.photo, a.raw, k) for k in ks]
    pics.append(images.gradcam_overlay(a.photo, a.raw, kc + g))
    caps = [f"{classes[k]} {a.class_probs[k]:.0%}" for k in ks] + [f"{groups[g]} {a.group_probs[g]:.0%} (group)"]
    cols = st.columns(len(pics))
    for col, pic, cap in zip(cols, pics, caps):
        col.image(pic, width="stretch", caption=f"why {cap}")
    st.caption("Grad-CAM (red = the regions that raise that output most) for the top cities and "
               "the predicted group, computed now on the run's model.")
    grid = images.image_grid(pics, ncols=len(pics), cell=320, pad=6, captions=[f"why {c}" for c in caps])
    export_ui.download_buttons(grid, f"gradcam-{Path(name).stem}")

    st.subheader("Nearest training images")
    if not sel.cache.has("features"):
        st.info("No features in the cache: run the analysis to compare with the dataset.")
        return
    index = training_index(str(sel.cache.root), sel.cache.mtime("features"), sel)
    if index.dim != a.pooled.shape[0]:
        st.warning("The cached features do not match the model (stale analysis?): "
                   f"re-run `streetlens analyze {sel.name}`.")
        return
    near, sims = index.nearest(a.pooled, N_NEIGHBOURS)
    samples = sel.samples().set_index("row")
    nb = samples.loc[near]
    votes = nb["class"].value_counts()
    st.caption("By cosine similarity of the pooled features (what the heads see): "
               + ", ".join(f"{n} × {c}" for c, n in votes.items()) + ".")
    cols = st.columns(len(near))
    for col, (r, s) in zip(cols, zip(nb.to_dict("records"), sims)):
        with col:
            st.image(state.thumbnail_bytes(str(sel.image_path(r["path"])), 160), width="stretch")
            st.markdown(f"{r['class']} · {s:.2f}" + ("" if r["correct"] else " ✗")
                        + f" [↗]({links.sample_url(sel.name, r['id'])})")


def main() -> None:
    st.title("New image")
    st.caption("Upload a street photo: what does the model say, and why?")
    sel = state.select_run()
    if sel is None:
        st.stop()
    export_ui.talk_pack_builder(sel)
    for p in sel.problems if sel.ready else []:
        st.warning(f"Stale analysis: {p}")
    limit = upload_limit_mb()
    up = st.file_uploader(f"A photo ({', '.join(TYPES)}; at most {limit} MB and 64 megapixels)",
                          type=TYPES, key="new_image_upload")
    if up is None:
        st.info(f"Run **{sel.name}** classifies it into {len(sel.labels.classes)} cities and "
                f"{' / '.join(sel.labels.groups)}, and shows where it looked.")
        return
    data = up.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    model_file = sel.run.files.model
    try:
        with st.spinner("Classifying and explaining …"):
            a = analyse(digest, data, up.name, sel.name, model_file.stat().st_mtime, limit,
                        model=state.get_model(sel.run))
    except ImageRejected as exc:
        st.error(f"Cannot use {up.name}: {exc}.")
        return
    show(sel, a, up.name)


if __name__ == "__main__":
    main()
