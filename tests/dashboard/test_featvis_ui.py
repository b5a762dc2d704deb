"""Feature visualisations on the pages (``dashboard/featvis_ui.py``), on a copy of the
analysed tiny run's cache: a missing picture is rendered once, saved, and read on the
next visit; the Atlas and Sample pages show real pictures where files were deleted."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from analysis.data.dataset import Dataset
from analysis.precompute import featvis_on_demand as fod
from analysis.store import RunCache
from dashboard import featvis_ui, state
from dashboard.figures import images

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "app_pages"


@pytest.fixture
def copied(analysed_run, tmp_path, monkeypatch):
    """The analysed run with its cache root copied (env pointing at the copy)."""
    run, cache, roots = analysed_run
    root = tmp_path / "cache"
    shutil.copytree(roots["STREETLENS_CACHE"], root)
    for k, v in {**roots, "STREETLENS_CACHE": str(root)}.items():
        monkeypatch.setenv(k, v)
    return run, RunCache(root / cache.root.name)


@pytest.fixture
def renders(monkeypatch):
    """How many pictures each optimisation renders (fod.render, wrapped)."""
    calls: list[int] = []
    real = fod.render

    def counting(model, run, objectives, settings, **kw):
        calls.append(len(objectives))
        return real(model, run, objectives, settings, **kw)

    monkeypatch.setattr(fod, "render", counting)
    return calls


def selection(run, cache) -> state.Selection:
    return state.Selection(run, cache, Dataset(Path(run.info["dataset"]["path"])), [])


def test_missing_pictures_are_rendered_in_one_batch_then_read(copied, renders):
    run, cache = copied
    shown = set(cache.table("featvis").query("kind == 'channel'")["index"])
    new = [c for c in range(32) if c not in shown][:3]
    for c in new:  # other page tests may have rendered them into the shared cache
        cache.featvis_path("channel", c).unlink(missing_ok=True)
    cache.featvis_path("concept", 1).unlink()
    items = [("channel", c) for c in new] + [("concept", 1), ("concept", 0)]
    pics = featvis_ui.featvis_pictures(selection(run, cache), items)
    assert renders == [4]  # the four missing ones, one optimisation
    assert set(pics) == set(items) and all(p.size == (32, 32) for p in pics.values())
    for item, pic in pics.items():
        with Image.open(cache.featvis_path(*item)) as im:
            assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(pic))
    again = featvis_ui.featvis_picture(selection(run, cache), "channel", new[0])
    assert renders == [4] and np.array_equal(np.asarray(again), np.asarray(pics[("channel", new[0])]))


def test_a_unit_that_cannot_be_rendered_gets_a_marked_placeholder(copied, renders):
    run, cache = copied
    k = len(cache.read_concept_basis()[0])  # one past the last concept
    pic = featvis_ui.featvis_picture(selection(run, cache), "concept", k)
    expected = images.placeholder_icon(128, f"c {k}: n/a")
    assert renders == [] and np.array_equal(np.asarray(pic), np.asarray(expected))


def run_page(name: str, **params) -> AppTest:
    import streamlit as st

    st.cache_data.clear()
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=180)
    for k, v in params.items():
        at.query_params[k] = str(v)
    return at.run()


def test_atlas_renders_deleted_concept_pictures_and_shows_them(copied, renders):
    run, cache = copied
    for k in (0, 2):
        cache.featvis_path("concept", k).unlink()
    at = run_page("atlas", run=run.name, concept=0)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error and not at.warning, [w.value for w in at.warning]
    assert cache.featvis_path("concept", 0).is_file() and cache.featvis_path("concept", 2).is_file()
    assert sum(renders) == 2
    stamp = cache.featvis_path("concept", 0).stat().st_mtime_ns
    at = run_page("atlas", run=run.name, concept=0)  # the next visit reads the files
    assert not at.exception and sum(renders) == 2
    assert cache.featvis_path("concept", 0).stat().st_mtime_ns == stamp


def test_sample_channels_view_renders_this_images_channels(copied, renders):
    from analysis.explain import evidence

    run, cache = copied
    row = cache.table("samples").iloc[4]
    attr = np.asarray(cache.array("channel_attr")[int(row["row"]),
                                                  run.labels.classes.index(row["pred_class"])], np.float32)
    top = evidence.top_channels(attr, 8)
    for c in top:
        cache.featvis_path("channel", c).unlink(missing_ok=True)
    at = run_page("sample", run=run.name, id=row["id"])
    assert not at.exception, [e.message for e in at.exception]
    assert all(cache.featvis_path("channel", c).is_file() for c in top)
    assert renders == [len(top)]
    md = next(m.value for m in at.markdown if "channel " in m.value and "<table" in m.value)
    assert md.count('<img src="data:image/png;base64,') == len(top)
