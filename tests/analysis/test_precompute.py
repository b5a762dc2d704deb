"""streetlens analyze on a tiny run: artefacts agree with the model, resume after a crash
or a kill, stale caches are recomputed."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import analysis.precompute as precompute
from analysis.precompute import AnalyzeConfig, analyze
from analysis.store import AnalysisCache
from analysis.train.data import load_rgb, make_transform
from analysis.train.runs import load_model

ROOT = Path(__file__).resolve().parents[2]
FAST = AnalyzeConfig(batch_size=8, stages=("forward", "channels"))


def quiet(*_):
    pass


def test_forward_artefacts_match_the_model(tiny_run, tiny_dataset, tmp_path):
    cache = analyze(tiny_run.path, config=FAST, cache_root=tmp_path, progress=False, log=quiet)
    samples = cache.table("samples.parquet")
    rows = tiny_dataset.usable()
    assert samples["id"].tolist() == rows["id"].tolist()
    model = load_model(tiny_run)
    tf = make_transform(tiny_run.spec, tiny_run.weights)
    x = torch.stack([tf(load_rgb(tiny_dataset.image_path(p))) for p in rows["path"][:5]])
    with torch.no_grad():
        c, g = model(x)
        fmap = model.features(x)
    np.testing.assert_allclose(cache.array("class_logits.npy")[:5], c.numpy(), atol=1e-5)
    np.testing.assert_allclose(cache.array("group_logits.npy")[:5], g.numpy(), atol=1e-5)
    np.testing.assert_allclose(cache.array("activations.npy")[:5], fmap.numpy(), atol=2e-2, rtol=1e-2)
    assert cache.array("cams.npy").shape == (len(rows), 3 + 2, 8, 8)
    assert (samples["pred_class"] == [tiny_run.labels.classes[i] for i in c.argmax(1).tolist()] + list(
        samples["pred_class"][5:])).all()
    assert samples["correct"].dtype == bool and samples["p_pred"].between(0, 1).all()
    top = cache.table("top_channels.parquet")
    assert set(top["target"]) == {"paris", "seoul", "tokyo", "East", "West"}
    assert cache.stage_done("forward") and cache.manifest["n_images"] == len(rows)


def test_interrupted_analysis_resumes_without_corruption(tiny_run, tmp_path, monkeypatch):
    reference = analyze(tiny_run.path, config=FAST, cache_root=tmp_path / "ref", progress=False, log=quiet)
    real = precompute.image_batches
    calls = {"n": 0}

    def crashing(ctx, start=0, skip=None):
        for item in real(ctx, start, skip):
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt  # dies in the middle of the forward stage
            yield item

    monkeypatch.setattr(precompute, "image_batches", crashing)
    with pytest.raises(KeyboardInterrupt):
        analyze(tiny_run.path, config=FAST, cache_root=tmp_path / "c", progress=False, log=quiet)
    cache_dir = tmp_path / "c" / tiny_run.name
    assert not (cache_dir / "cams.npy").exists() and (cache_dir / "cams.npy.partial").exists()
    progress = json.loads((cache_dir / "cams.npy.progress.json").read_text())
    assert progress["rows"] == 3 * 8
    monkeypatch.setattr(precompute, "image_batches", real)
    starts = []
    orig = precompute.image_batches

    def recording(ctx, start=0, skip=None):
        starts.append(start)
        return orig(ctx, start, skip)

    monkeypatch.setattr(precompute, "image_batches", recording)
    resumed = analyze(tiny_run.path, config=FAST, cache_root=tmp_path / "c", progress=False, log=quiet)
    assert starts == [24]  # continued, did not start over
    for name in ("cams.npy", "class_logits.npy", "channel_attr.npy", "activations.npy"):
        np.testing.assert_array_equal(resumed.array(name), reference.array(name))


def test_killed_process_resumes(tiny_run, tmp_path):
    """A real SIGKILL in the middle of the forward stage, then a rerun."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r});"
            "from analysis.precompute import analyze, AnalyzeConfig;"
            f"analyze({str(tiny_run.path)!r}, config=AnalyzeConfig(batch_size=1, stages=('forward',)),"
            f" cache_root={str(tmp_path)!r}, progress=False, log=lambda *a: None)")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    progress = tmp_path / tiny_run.name / "cams.npy.progress.json"
    deadline = time.time() + 120
    rows = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            rows = json.loads(progress.read_text())["rows"]
        except (OSError, ValueError, KeyError):
            rows = 0
        if rows >= 5:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 5 <= rows < 72, "the process should have been killed mid-stage"
    cache = analyze(tiny_run.path, config=AnalyzeConfig(batch_size=4, stages=("forward",)),
                    cache_root=tmp_path, progress=False, log=quiet)
    fresh = analyze(tiny_run.path, config=AnalyzeConfig(batch_size=4, stages=("forward",)),
                    cache_root=tmp_path / "fresh", progress=False, log=quiet)
    np.testing.assert_allclose(cache.array("cams.npy"), fresh.array("cams.npy"), atol=1e-3)
    # same rows, labels and predictions; probabilities equal up to summation order (rows
    # the killed process computed in batches of 1, the rerun in batches of 4)
    pd.testing.assert_frame_equal(cache.table("samples.parquet"), fresh.table("samples.parquet"),
                                  check_exact=False, rtol=1e-5)


def test_stale_cache_is_detected_and_recomputed(tiny_run, tiny_dataset, tmp_path):
    cache = analyze(tiny_run.path, config=FAST, cache_root=tmp_path, progress=False, log=quiet)
    m = cache.manifest
    assert cache.problems(m["model_fingerprint"], m["dataset_fingerprint"]) == []
    assert cache.problems("other-model", m["dataset_fingerprint"])
    messages = []
    # a changed parameter reruns only the stage it belongs to, not the forward pass
    again = analyze(tiny_run.path, config=AnalyzeConfig(batch_size=8, top_channels=3,
                                                        stages=("forward", "channels")),
                    cache_root=tmp_path, progress=False, log=messages.append)
    assert messages[0] == "forward    cached" and messages[1].startswith("channels ")
    assert again.table("top_channels.parquet")["rank"].max() == 2
    # another model: everything is recomputed
    manifest = json.loads((cache.root / "manifest.json").read_text())
    manifest["model_fingerprint"] = "someone-else"
    (cache.root / "manifest.json").write_text(json.dumps(manifest))
    messages.clear()
    analyze(tiny_run.path, config=FAST, cache_root=tmp_path, progress=False, log=messages.append)
    assert "recomputing" in messages[0] and messages[1].startswith("forward ") and "cached" not in messages[1]


def test_unknown_stage_is_an_error(tiny_run, tmp_path):
    with pytest.raises(ValueError, match="unknown stage"):
        analyze(tiny_run.path, config=AnalyzeConfig(stages=("nope",)), cache_root=tmp_path, log=quiet)


@pytest.mark.parametrize("mode", ["transfer", "finetune"])
def test_forward_from_the_trunk_cache_equals_forward_from_images(tiny_dataset, tmp_path, mode):
    """The analysis reads the training's cached frozen outputs (transfer: the whole trunk;
    finetune: the prefix, then runs the trained tail) — same numbers as from the images."""
    from analysis.train.trainer import TrainConfig, train

    run = train(TrainConfig(dataset=str(tiny_dataset.root), backbone="tiny_cnn", mode=mode, epochs=2,
                            batch_size=8, models_root=str(tmp_path / "models"),
                            cache_root=str(tmp_path / "cache"), cache_dtype="float32",
                            cache_precision="fp32"), progress=False)
    assert run.info["trunk_cache"]["frozen"] == ("trunk" if mode == "transfer" else "prefix")
    reused = analyze(run.path, config=FAST, cache_root=tmp_path / "a", progress=False, log=quiet)
    n = len(tiny_dataset.usable())
    assert reused.manifest["stages"]["forward"]["from_trunk_cache"] == n
    # the same analysis with the trunk cache gone runs every image through the network
    shutil.rmtree(tmp_path / "cache" / "trunk")
    live = analyze(run.path, config=FAST, cache_root=tmp_path / "b", progress=False, log=quiet)
    assert live.manifest["stages"]["forward"]["from_trunk_cache"] == 0
    for name in ("class_logits.npy", "group_logits.npy", "features.npy", "cams.npy", "channel_attr.npy"):
        np.testing.assert_allclose(np.asarray(reused.array(name), dtype=np.float32),
                                   np.asarray(live.array(name), dtype=np.float32),
                                   atol=2e-3, rtol=2e-3, err_msg=name)


def test_images_missing_from_the_trunk_cache_run_live(tiny_run, tiny_dataset, tmp_path):
    """A cache file that lost rows (or a dataset that gained images) falls back per batch."""
    from analysis.train.trunk_cache import cached_ids

    info = tiny_run.info["trunk_cache"]
    root = Path(info["root"])
    kept = {k: v for k, v in info["files"].items() if k != "test"}
    copy = tmp_path / "models" / tiny_run.name
    shutil.copytree(tiny_run.path, copy)
    meta = json.loads((copy / "run.json").read_text())
    meta["trunk_cache"]["files"] = kept
    (copy / "run.json").write_text(json.dumps(meta))
    cache = analyze(copy, config=FAST, cache_root=tmp_path / "cache", progress=False, log=quiet)
    done = cache.manifest["stages"]["forward"]["from_trunk_cache"]
    covered = sum(len(cached_ids(root / f)) for f in kept.values())
    assert 0 < done <= covered < len(tiny_dataset.usable())
    model = load_model(tiny_run)
    rows = tiny_dataset.usable()
    tf = make_transform(tiny_run.spec, tiny_run.weights)
    x = torch.stack([tf(load_rgb(tiny_dataset.image_path(p))) for p in rows["path"]])
    with torch.no_grad():
        c, _ = model(x)
    np.testing.assert_allclose(cache.array("class_logits.npy"), c.numpy(), atol=1e-4)


def test_umap_2d_keeps_clusters_apart_and_is_seeded():
    """Exact cosine kNN handed to UMAP: three direction clusters stay three clusters (each
    point's nearest 2-D neighbours come from its own cluster), and one seed gives one
    layout."""
    from analysis.precompute import umap_2d

    rng = np.random.default_rng(0)
    centres = np.eye(3, 16) * 5
    feats = np.concatenate([c + rng.normal(0, 0.3, (40, 16)) for c in centres]).astype(np.float32)
    labels = np.repeat(np.arange(3), 40)
    xy = umap_2d(feats, n_neighbors=10, seed=0, progress=False)
    assert xy.shape == (120, 2) and xy.dtype == np.float32
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :5]
    assert (labels[nearest] == labels[:, None]).mean() > 0.95
    np.testing.assert_array_equal(xy, umap_2d(feats, n_neighbors=10, seed=0, progress=False))
    # fewer points than neighbours: PCA
    assert umap_2d(feats[:6], n_neighbors=10, seed=0, progress=False).shape == (6, 2)
