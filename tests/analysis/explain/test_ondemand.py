"""On-demand pixel-level maps: computed through the method registry once, then read from
the run cache's ``ondemand`` artefact (one file per method, image and target, written
atomically)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from analysis.explain import ondemand
from analysis.explain.attribution import AttributionMethod
from analysis.explain.method_cards import CARDS, MethodCard
from analysis.explain.registry import METHODS, register_method
from analysis.explain.targets import Target
from analysis.store import RunCache
from analysis.train.runs import load_model


@pytest.fixture(scope="module")
def setup(analysed_run):
    torch.set_num_threads(1)
    run, cache, _ = analysed_run
    samples = cache.table("samples")
    row = samples.iloc[0]
    from analysis.data.dataset import Dataset

    ds = Dataset(run.info["dataset"]["path"])
    return run, cache, load_model(run), row["id"], ds.image_path(row["path"])


def test_the_offered_methods_are_the_registry_s_on_demand_ones():
    assert ondemand.on_demand_methods() == ["guided_backprop", "guided_gradcam", "integrated_gradients"]

    CARDS["test_only_ondemand"] = MethodCard("Test only", resolution="input", signed=True, on_demand=True)
    try:
        @register_method("test_only_ondemand")
        class Extra(AttributionMethod):
            pass

        assert "test_only_ondemand" in ondemand.on_demand_methods()  # registered with its card = offered
        assert ondemand.method_options(None, "test_only_ondemand") == {}
    finally:
        METHODS.pop("test_only_ondemand", None)
        CARDS.pop("test_only_ondemand")


def test_options_follow_the_method_and_the_run(setup):
    run = setup[0]
    ig = ondemand.method_options(run, "integrated_gradients")
    assert ig["n_steps"] == 50 and ig["baseline"] == "black" and ig["mean_std"] == run.spec.mean_std(run.weights)
    assert ondemand.method_options(run, "guided_backprop") == {}


@pytest.mark.parametrize("method", ondemand.on_demand_methods())
def test_every_offered_method_computes_a_map_at_input_size(setup, method, tmp_path):
    run, _, model, image_id, path = setup
    cache = RunCache(tmp_path)
    size = run.info["backbone"]["input_size"]
    values, from_cache = ondemand.get_map(cache, run, model, image_id, path, method, Target("city", 1))
    assert not from_cache
    assert values.shape == (size, size) and values.dtype == np.float32
    assert np.isfinite(values).all() and np.abs(values).sum() > 0
    assert cache.ondemand_path(method, image_id, "city", 1).is_file()


def test_second_call_reads_the_file(setup, tmp_path, monkeypatch):
    run, _, model, image_id, path = setup
    calls = []
    real = ondemand.compute_map

    def counting(*args, **kw):
        calls.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(ondemand, "compute_map", counting)
    cache = RunCache(tmp_path)
    first, cached1 = ondemand.get_map(cache, run, model, image_id, path, "guided_backprop", Target("group", 0))
    loaded = []
    second, cached2 = ondemand.get_map(cache, run, lambda: loaded.append(1) or model, image_id, path,
                                       "guided_backprop", Target("group", 0))
    assert (cached1, cached2) == (False, True)
    assert len(calls) == 1 and not loaded  # neither recomputed nor even the model loaded
    np.testing.assert_array_equal(first, second)
    # another target is another file
    ondemand.get_map(cache, run, model, image_id, path, "guided_backprop", Target("group", 1))
    assert len(calls) == 2


def test_map_appears_atomically(setup, tmp_path, monkeypatch):
    """The file is written under a temporary name and renamed: a failure leaves nothing, and
    the final name only ever holds a complete array."""
    run, _, model, image_id, path = setup
    cache = RunCache(tmp_path)
    target = cache.ondemand_path("integrated_gradients", image_id, "city", 0)
    seen = []
    real_replace = os.replace

    def watching_replace(src, dst):
        seen.append((os.path.basename(src), os.path.exists(dst), np.load(src).shape))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching_replace)
    values, _ = ondemand.get_map(cache, run, model, image_id, path, "integrated_gradients", Target("city", 0))
    assert len(seen) == 1
    tmp_name, existed, shape = seen[0]
    assert tmp_name != target.name and tmp_name.endswith(".tmp") and not existed
    assert shape == values.shape
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]

    def failing(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(ondemand, "compute_map", failing)
    with pytest.raises(RuntimeError):
        ondemand.get_map(cache, run, model, image_id, path, "integrated_gradients", Target("city", 2))
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_progress_reports_passes_and_the_model_keeps_no_hooks(setup, tmp_path):
    from analysis.explain.attribution import module_hooks

    run, _, model, image_id, path = setup
    reports = []
    ondemand.get_map(RunCache(tmp_path), run, model, image_id, path, "integrated_gradients", Target("city", 2),
                     progress=lambda f, t: reports.append((f, t)))
    assert reports and all(0 <= f <= 1 for f, _ in reports)
    assert "Integrated gradients" in reports[-1][1]
    assert module_hooks(model) == {}


def test_unreadable_file_counts_as_missing(tmp_path):
    cache = RunCache(tmp_path)
    p = cache.ondemand_path("gradient", "x", "city", 0)
    p.parent.mkdir(parents=True)
    p.write_bytes(b"not an array")
    assert ondemand.load_cached(cache, "gradient", "x", Target("city", 0)) is None
