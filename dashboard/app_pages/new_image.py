"""New image: what the selected run makes of a photo you upload.

The file goes through the same checks as an import (``analysis.data.images.load_clean``:
full decode, EXIF orientation, any colour mode; corrupt files, files over the upload
limit, pictures over 64 MP and decompression bombs are refused with one line). Then, on
the fly with the run's model (one trunk pass, ``all_class_cams``):

* prediction bars of both heads;
* Grad-CAM for the top cities and for the predicted group;
* the nearest training images by cosine similarity of the pooled features (the same
  features as ``features.npy``), with their city and whether the model got them right.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from analysis.data.images import DEFAULT_MAX_PIXELS, ImageRejected, load_clean
from dashboard import export_ui, state
from dashboard.figures import charts, images

TYPES = ["jpg", "jpeg", "png", "webp"]
MIN_SIDE = 16  # as `streetlens predict`
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
class Analysis:
    photo: np.ndarray  # uint8 (H, W, 3), the cleaned picture as the model saw it (before resizing)
    class_probs: np.ndarray
    group_probs: np.ndarray
    raw: np.ndarray  # (K, h, w) signed Grad-CAM maps, every class then every group
    pooled: np.ndarray  # (C,)
    note: str


def check_and_load(name: str, data: bytes, limit_mb: int, max_pixels: int = DEFAULT_MAX_PIXELS):
    """The cleaned PIL image and a note, or raise ``ImageRejected`` with one line."""
    if len(data) > limit_mb * 1024 * 1024:
        raise ImageRejected(f"{len(data) / 1024 / 1024:.1f} MB is over the {limit_mb} MB upload limit; "
                            "resize or recompress the photo")
    suffix = Path(name).suffix.lower() or ".img"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        clean = load_clean(path, min_side=MIN_SIDE, max_pixels=max_pixels)
    w, h = clean.original_size
    note = f"{clean.source_format}, {w}×{h}"
    if clean.crop_box is not None:
        note += f", uniform borders cropped to {clean.image.width}×{clean.image.height}"
    return clean.image, note


def analyse(digest: str, data: bytes, name: str, run_name: str, model_mtime: float,
            limit_mb: int, model=None) -> Analysis:
    """Clean, predict and explain one upload (cached by its bytes and the model)."""
    return Analysis(**_analyse(digest, data, name, run_name, model_mtime, limit_mb, model))


@st.cache_data(show_spinner=False, max_entries=16)
def _analyse(digest: str, _data: bytes, name: str, run_name: str, model_mtime: float,
             limit_mb: int, _model=None) -> dict:
    """``analyse`` as plain values (what st.cache_data can pickle)."""
    import torch

    from analysis.explain.gradcam import all_class_cams
    from analysis.train.data import make_transform

    run = state.get_run(run_name)
    img, note = check_and_load(name, _data, limit_mb)
    model = _model if _model is not None else state.get_model(run)
    tf = make_transform(run.spec, run.weights, "none", run.info["backbone"]["input_size"])
    device = next(model.parameters()).device
    x = tf(img).unsqueeze(0).to(device)
    r = all_class_cams(model, x, keep_features=False)
    photo = img.copy()
    photo.thumbnail((640, 640))
    return dict(
        photo=np.asarray(photo.convert("RGB")),
        class_probs=torch.softmax(r.class_logits.float(), 1)[0].cpu().numpy(),
        group_probs=torch.softmax(r.group_logits.float(), 1)[0].cpu().numpy(),
        raw=r.raw[0].float().cpu().numpy(), pooled=r.pooled[0].float().cpu().numpy(), note=note)


@st.cache_resource(show_spinner=False, max_entries=4)
def train_features(cache_root: str, mtime: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows, L2-normalised features) of the training images of a cache."""
    import pandas as pd

    root = Path(cache_root)
    samples = pd.read_parquet(root / "samples.parquet", columns=["row", "split"])
    rows = samples["row"].to_numpy()[samples["split"].to_numpy() == "train"]
    if not len(rows):
        rows = samples["row"].to_numpy()
    feats = np.asarray(np.load(root / "features.npy", mmap_mode="r")[rows], dtype=np.float32)
    feats /= np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    return rows, feats


def nearest(rows: np.ndarray, feats: np.ndarray, query: np.ndarray, k: int = N_NEIGHBOURS):
    """The ``k`` rows most cosine-similar to ``query`` and their similarities."""
    q = np.asarray(query, dtype=np.float32)
    q = q / max(float(np.linalg.norm(q)), 1e-12)
    sims = feats @ q
    order = np.argsort(-sims, kind="stable")[:k]
    return rows[order], sims[order]


@st.cache_data(show_spinner=False, max_entries=4)
def typical_similarity(cache_root: str, mtime: float, percentile: float = 5.0) -> float | None:
    """The ``percentile``-th percentile of the dataset images' similarity to their nearest
    training image (``neighbor_dist.npy`` holds cosine distances): below it, a photo is
    farther from the training data than almost any dataset image."""
    p = Path(cache_root) / "neighbor_dist.npy"
    if not p.is_file():
        return None
    d = np.load(p)
    return float(np.percentile(1.0 - d[:, 0], percentile)) if d.size else None


def unlike_training_warning(sel: state.Selection, a: Analysis) -> None:
    """Say so when the photo is farther from every training image than almost any
    dataset image is (a prediction outside what the model learned)."""
    p, nd = sel.cache.root / "features.npy", sel.cache.root / "neighbor_dist.npy"
    if not (p.is_file() and nd.is_file()):
        return
    rows, feats = train_features(str(sel.cache.root), p.stat().st_mtime)
    if feats.shape[1] != a.pooled.shape[0]:
        return
    _, sims = nearest(rows, feats, a.pooled, 1)
    typical = typical_similarity(str(sel.cache.root), nd.stat().st_mtime)
    if typical is not None and len(sims) and sims[0] < typical:
        st.warning(f"This photo is unlike the training images: its nearest one is {sims[0]:.2f} "
                   f"similar, while 95 % of the dataset's images have a training neighbour above "
                   f"{typical:.2f}. Read the prediction as a guess outside what the model learned.")


def sample_url(run: str, image_id: str) -> str:
    return "sample?" + urlencode({"run": run, "id": image_id})


def show(sel: state.Selection, a: Analysis, name: str) -> None:
    labels = sel.labels
    classes, groups = list(labels.classes), list(labels.groups)
    kc = len(classes)
    top = np.argsort(-a.class_probs, kind="stable")
    pred, gpred = classes[int(top[0])], groups[int(np.argmax(a.group_probs))]
    st.subheader(f"Prediction: {pred} ({a.class_probs[top[0]]:.0%}) · {gpred} "
                 f"({a.group_probs.max():.0%})")
    unlike_training_warning(sel, a)
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
    if not sel.cache.has("features.npy"):
        st.info("No features in the cache: run the analysis to compare with the dataset.")
        return
    p = sel.cache.root / "features.npy"
    rows, feats = train_features(str(sel.cache.root), p.stat().st_mtime)
    if feats.shape[1] != a.pooled.shape[0]:
        st.warning("The cached features do not match the model (stale analysis?): "
                   f"re-run `streetlens analyze {sel.run.name}`.")
        return
    near, sims = nearest(rows, feats, a.pooled)
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
                        + f" [↗]({sample_url(sel.run.name, r['id'])})")


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
        st.info(f"Run **{sel.run.name}** classifies it into {len(sel.labels.classes)} cities and "
                f"{' / '.join(sel.labels.groups)}, and shows where it looked.")
        return
    data = up.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    model_file = sel.run.path / "model.pt"
    try:
        with st.spinner("Classifying and explaining …"):
            a = analyse(digest, data, up.name, sel.run.name, model_file.stat().st_mtime, limit,
                        model=state.get_model(sel.run))
    except ImageRejected as exc:
        st.error(f"Cannot use {up.name}: {exc}.")
        return
    show(sel, a, up.name)


if __name__ == "__main__":
    main()
