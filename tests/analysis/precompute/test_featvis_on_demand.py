"""Feature visualisations on demand (a copy of the analysed tiny run's cache): rendered
with the cache's own settings, written once, then read."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from analysis.precompute import AnalyzeConfig
from analysis.precompute import featvis_on_demand as fod
from analysis.store import RunCache
from analysis.train.runs import load_model


@pytest.fixture
def copied(analysed_run, tmp_path):
    run, cache, _ = analysed_run
    root = tmp_path / cache.root.name
    shutil.copytree(cache.root, root)
    return run, RunCache(root)


def test_settings_come_from_the_manifest(copied, tmp_path):
    _, cache = copied
    s = fod.FeatvisSettings.for_cache(cache)
    assert (s.size, s.steps, s.seed) == (32, 4, 0)  # what analysed_run rendered with
    d = AnalyzeConfig()
    fresh = fod.FeatvisSettings.for_cache(RunCache(tmp_path / "none"))
    assert (fresh.size, fresh.steps, fresh.lr, fresh.param, fresh.transforms) == (
        d.featvis_size, d.featvis_steps, d.featvis_lr, d.featvis_param, d.featvis_transforms)
    cache.manifest["stages"]["featvis"]["params"] = {"featvis_size": 64, "featvis_steps": 9, "featvis_lr": 0.2,
                                                     "featvis_precision": "fp32", "seed": 1}
    legacy = fod.FeatvisSettings.for_cache(cache)  # rendered before param / transforms were settings
    assert (legacy.size, legacy.steps, legacy.param, legacy.transforms) == (64, 9, "fft", "standard")


def test_a_missing_picture_is_rendered_once_then_read(copied):
    run, cache = copied
    shown = set(cache.table("featvis")["index"][cache.table("featvis")["kind"] == "channel"])
    channel = next(c for c in range(32) if c not in shown)
    target = cache.featvis_path("channel", channel)
    target.unlink(missing_ok=True)  # pages' tests may have rendered it into the shared cache
    assert cache.featvis_path("concept", 0).is_file()
    loads, steps = [], []

    def model_fn():
        loads.append(1)
        return load_model(run)

    items = [("channel", channel), ("concept", 0), ("channel", channel)]
    paths = fod.ensure_pictures(cache, run, model_fn, items, on_step=lambda d, t: steps.append((d, t)))
    assert paths == {("channel", channel): target, ("concept", 0): cache.featvis_path("concept", 0)}
    assert loads == [1] and steps[-1] == (4, 4)  # one picture missing: one optimisation of 4 steps
    with Image.open(target) as im:
        got = np.asarray(im.convert("RGB"))
    assert got.shape == (32, 32, 3)
    # the same picture as rendering it with the cache's settings
    expected = fod.render(load_model(run), run, [("channel", channel)], fod.FeatvisSettings.for_cache(cache))[0]
    assert np.array_equal(got, np.asarray(expected))
    stamp = target.stat().st_mtime_ns
    fod.ensure_pictures(cache, run, model_fn, items)
    assert loads == [1] and target.stat().st_mtime_ns == stamp  # read, not rendered again
    assert not list(target.parent.glob(".*.tmp"))  # written atomically: no temporary left


def test_progress_counts_the_steps_of_every_batch(copied):
    run, cache = copied
    items = [("channel", c) for c in range(10)]  # two optimisations: 8, then 2
    for item in items:
        cache.featvis_path(*item).unlink(missing_ok=True)
    steps = []
    fod.ensure_pictures(cache, run, lambda: load_model(run), items, on_step=lambda d, t: steps.append((d, t)))
    assert steps == [(i, 8) for i in range(1, 9)]  # 4 steps each, out of 2 × 4
    assert all(cache.featvis_path(*item).is_file() for item in items)


def test_objectives_and_bad_items(copied):
    _, cache = copied
    components = cache.read_concept_basis()[0]
    kind, vec = fod.objective(cache, ("concept", 1))
    assert kind == "direction" and np.allclose(vec, components[1])
    assert fod.objective(cache, ("channel", 7)) == ("channel", 7)
    with pytest.raises(ValueError, match="out of range"):
        fod.objective(cache, ("concept", len(components)))
    with pytest.raises(ValueError, match="'concept' or a 'channel'"):
        fod.objective(cache, ("neuron", 1))
