"""Dashboard tests read the fully analysed tiny run (``analysed_run`` in tests/conftest.py):
every page reads a real cache made by the same code as `streetlens analyze`, only small."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def point_dashboard(monkeypatch):
    """``point_dashboard(roots)``: set the env vars dashboard/state.py reads (models, data
    and cache roots) for this test."""

    def point(roots: dict) -> None:
        for k, v in roots.items():
            monkeypatch.setenv(k, v)

    return point


@pytest.fixture
def dashboard_env(analysed_run, point_dashboard):
    """Point the dashboard at the analysed tiny run."""
    run, cache, roots = analysed_run
    point_dashboard(roots)
    return run, cache


# ------------------------------------------------------------ pages under AppTest
PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "app_pages"


def _walk(node):
    """Every leaf element under ``node`` (an AppTest block), in page order."""
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for k in sorted(children):
        yield from _walk(children[k])


def _no_problems(at) -> None:
    """The page ran without an exception and shows no ``st.error``."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture(scope="module")
def run_page(request):
    """``run_page(**query_params) -> AppTest``: the test module's page (its ``PAGE``, a file
    name in dashboard/app_pages; ``PAGE_TIMEOUT`` seconds, default 120) run once with
    those URL parameters."""
    from streamlit.testing.v1 import AppTest

    path = PAGES / f"{request.module.PAGE}.py"
    timeout = getattr(request.module, "PAGE_TIMEOUT", 120)

    def run(**params) -> AppTest:
        import streamlit as st

        st.cache_data.clear()  # state.run_names() caches the run list for 10 s, whatever the env
        at = AppTest.from_file(str(path), default_timeout=timeout)
        for k, v in params.items():
            at.query_params[k] = str(v)
        return at.run()

    return run


@pytest.fixture(scope="session")
def walk():
    """``walk(node)``: every leaf element under an AppTest block, in page order."""
    return _walk


@pytest.fixture(scope="session")
def no_problems():
    """``no_problems(at)``: assert the page ran without an exception or an error element."""
    return _no_problems


@pytest.fixture
def counting_cache():
    """``counting_cache(root)``: an empty analysis cache at ``root`` whose ``reads`` record
    the columns each ``table_columns`` call asked for (what the dashboard read, and when)."""
    from analysis.store import SCHEMA_VERSION, RunCache

    class CountingCache(RunCache):
        def __init__(self, root):
            super().__init__(root)
            self.reads: list[list[str]] = []

        def table_columns(self, name, columns, categorical=()):
            self.reads.append(list(columns))
            return super().table_columns(name, columns, categorical)

    def make(root):
        cache = CountingCache(root)
        cache.manifest = {"schema": SCHEMA_VERSION}
        cache.save_manifest()
        return cache

    return make


@pytest.fixture
def two_runs(analysed_run, tmp_path, monkeypatch):
    """Two analysed runs of one dataset: the tiny run and "twin", a copy of it under another
    name (so every comparison's oracle is known: no difference, CKA 1, ρ 1)."""
    run, cache, roots = analysed_run
    models, caches = tmp_path / "models", tmp_path / "cache"
    shutil.copytree(run.path, models / run.name)
    shutil.copytree(run.path, models / "twin")
    info = models / "twin" / run.files.info.name
    info.write_text(json.dumps({**json.loads(info.read_text()), "name": "twin"}))
    shutil.copytree(cache.root, caches / run.name)
    shutil.copytree(cache.root, caches / "twin")
    monkeypatch.setenv("STREETLENS_MODELS", str(models))
    monkeypatch.setenv("STREETLENS_CACHE", str(caches))
    monkeypatch.setenv("STREETLENS_DATA", roots["STREETLENS_DATA"])
    return run.name, "twin"


