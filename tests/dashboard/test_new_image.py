"""New image page: an uploaded picture gets the prediction `streetlens predict` gives it,
Grad-CAM maps and its nearest training images; bad files get exactly one error line."""

from __future__ import annotations

import importlib.util
import io
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from analysis.data.images import load_clean
from analysis.train.predict import predict_images

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "dashboard" / "app_pages" / "new_image.py"


def page_module():
    spec = importlib.util.spec_from_file_location("new_image_page", PAGE)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)  # the page's main() only runs as __main__
    return mod


def upload(name: str, data: bytes, mime: str = "image/png") -> AppTest:
    import streamlit as st

    st.cache_data.clear()  # state.run_names() caches the run list for 10 s, whatever the env
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.run()
    at.file_uploader(key="new_image_upload").set_value((name, data, mime))
    return at.run()


def street(seed: int = 3, size=(64, 56)) -> Image.Image:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 255, (size[1], size[0], 3)).astype(np.float32)
    a = 0.5 * a + 0.5 * np.array([220, 40, 40])  # a red-tinted photo, like the fixture's tokyo
    return Image.fromarray(a.astype(np.uint8))


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def huge_header_png(w: int = 9000, h: int = 9000) -> bytes:
    """A tiny file whose header claims 81 megapixels (a decompression-bomb shape)."""
    data = bytearray(png_bytes(Image.new("RGB", (8, 8))))
    ihdr = struct.pack(">II", w, h) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def test_prediction_matches_streetlens_predict(dashboard_env, tmp_path):
    run, cache = dashboard_env
    img = street()
    data = png_bytes(img)
    at = upload("street.png", data)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    path = tmp_path / "street.png"
    path.write_bytes(data)
    pc, pg = predict_images(run, [load_clean(path, min_side=16).image])
    city, group = run.labels.classes[int(pc[0].argmax())], run.labels.groups[int(pg[0].argmax())]
    assert at.subheader[0].value.startswith(f"Prediction: {city} ({float(pc[0].max()):.0%}) · {group}")
    # Grad-CAM for the top cities (at most 3) and the predicted group
    captions = [c for im in at.get("image") for c in im.captions if c.startswith("why ")]
    k = min(3, len(run.labels.classes))
    assert len(captions) == k + 1 and captions[0].startswith(f"why {city} ")
    assert captions[-1].startswith(f"why {group} ")


def test_nearest_training_images_by_cosine(dashboard_env):
    run, cache = dashboard_env
    at = upload("street.png", png_bytes(street(5)))
    import re

    ids = [re.search(r"id=([0-9a-f]+)\)", m.value).group(1) for m in at.markdown if "sample?run=" in m.value]
    samples = cache.table("samples")
    train = samples["split"].to_numpy() == "train"
    feats = np.asarray(cache.array("features"), np.float32)[train]
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    from analysis.explain.gradcam import all_class_cams
    from analysis.train.data import make_transform
    from analysis.train.runs import load_model

    model = load_model(run)
    tf = make_transform(run.spec, run.weights, "none", run.info["backbone"]["input_size"])
    q = all_class_cams(model, tf(street(5)).unsqueeze(0)).pooled[0].numpy()
    order = np.argsort(-(feats @ (q / np.linalg.norm(q))), kind="stable")[:8]
    assert ids == samples[train]["id"].to_numpy()[order].tolist()
    assert all(samples.set_index("id").loc[i, "split"] == "train" for i in ids)


@pytest.mark.parametrize("name,data,words", [
    ("broken.jpg", b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20, "corrupt"),
    ("empty.png", b"", "empty"),
    ("notes.png", b"just some text, not a picture", "not an image"),
    ("bomb.png", huge_header_png(), "MP"),
])
def test_bad_upload_gives_one_error_line(dashboard_env, name, data, words):
    at = upload(name, data)
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.error) == 1
    msg = at.error[0].value
    assert msg.startswith(f"Cannot use {name}: ") and words in msg and "\n" not in msg
    assert not any(s.value.startswith("Prediction") for s in at.subheader)


def noise_png(seed: int = 0) -> bytes:
    """Uniform noise: far from every tinted training photo of the fixture."""
    rng = np.random.default_rng(seed)
    return png_bytes(Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)))


def training_png(cache, dataset) -> bytes:
    """The bytes of a training image (the one with the median distance to the others)."""
    samples = cache.samples().merge(cache.table("ood"), on="row")
    train = samples[samples["split"] == "train"].sort_values("score", kind="stable")
    return dataset.image_path(train.iloc[len(train) // 2]["path"]).read_bytes()


def ood_score(run, cache, data: bytes, tmp_path) -> float:
    """Oracle: mean cosine distance (numpy) of the picture's pooled features (the forward
    stage's ``all_class_cams``) to its k nearest training images."""
    import torch

    from analysis.explain.gradcam import all_class_cams
    from analysis.precompute.stages.ood import load_calibration
    from analysis.train.runs import load_model

    path = tmp_path / "photo.png"
    path.write_bytes(data)
    x = run.eval_transform()(load_clean(path, min_side=16).image).unsqueeze(0)
    with torch.no_grad():
        q = all_class_cams(load_model(run), x).pooled[0].double().numpy()
    samples = cache.samples()
    feats = np.asarray(cache.features(), np.float64)[samples["split"].to_numpy() == "train"]
    dist = 1.0 - feats @ q / (np.linalg.norm(feats, axis=1) * np.linalg.norm(q))
    return float(np.sort(dist)[:load_calibration(cache).k].mean())


def test_unusual_photo_gets_the_calibrated_warning_above_the_prediction(dashboard_env, walk, tmp_path):
    from analysis.precompute.stages.ood import load_calibration

    run, cache = dashboard_env
    cal = load_calibration(cache)
    data = noise_png()
    s = ood_score(run, cache, data, tmp_path)
    assert s > cal.threshold  # the fixture really puts noise outside
    at = upload("noise.png", data)
    assert not at.exception and not at.error
    order = list(walk(at.main))
    warn = [i for i, el in enumerate(order) if el.type == "warning" and "unlike any training photo" in el.value]
    pred = next(i for i, el in enumerate(order) if el.type == "subheader" and el.value.startswith("Prediction"))
    charts = [i for i, el in enumerate(order) if el.type == "plotly_chart"]
    assert len(warn) == 1 and warn[0] < pred < charts[0]
    text = order[warn[0]].value
    assert text == cal.message(s) and "\n" not in text
    assert f"are {s:.2f} away" in text and f"above the {cal.threshold:.2f} threshold" in text


def test_training_photo_gets_no_warning_but_its_distance(dashboard_env, tiny_dataset, tmp_path):
    from analysis.precompute.stages.ood import load_calibration

    run, cache = dashboard_env
    cal = load_calibration(cache)
    data = training_png(cache, tiny_dataset)
    s = ood_score(run, cache, data, tmp_path)
    at = upload("train.png", data)
    assert not at.exception and not at.error
    assert not any("unlike any training photo" in w.value for w in at.warning)
    shown = [c.value for c in at.caption if c.value.startswith("Like the training photos")]
    assert shown == [cal.within(s)] and f"under the {cal.threshold:.2f} out-of-distribution threshold" in shown[0]


def test_without_calibration_one_info_line_and_still_a_prediction(dashboard_env, analysed_run, tmp_path,
                                                                   monkeypatch):
    import shutil

    run, cache = dashboard_env
    root = tmp_path / "cache"
    shutil.copytree(cache.root, root / run.name, ignore=shutil.ignore_patterns(cache.path("ood_calibration").name))
    monkeypatch.setenv("STREETLENS_CACHE", str(root))
    at = upload("noise.png", noise_png())
    assert not at.exception and not at.error
    assert any(s.value.startswith("Prediction: ") for s in at.subheader)
    hints = [i.value for i in at.info if "out-of-distribution" in i.value]
    want = (f"No out-of-distribution check for run {run.name} yet: compute it with "
            f"`streetlens analyze {run.name} --stages ood` to be warned about photos unlike the training ones.")
    assert hints == [want]
    assert not any("unlike any training photo" in w.value for w in at.warning)
