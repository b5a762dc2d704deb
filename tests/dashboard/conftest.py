"""A fully analysed tiny run for dashboard tests: every page reads a real cache made by
the same code as `streetlens analyze`, only small (tiny CNN, 72 images, 40 px)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.precompute import AnalyzeConfig, analyze


@pytest.fixture(scope="session")
def analysed_run(tiny_run, tiny_dataset, tmp_path_factory):
    """(run, cache, roots) with all stages computed; roots = dict of env vars to set."""
    cache_root = tmp_path_factory.mktemp("dash_cache")
    cache = analyze(tiny_run.path, config=AnalyzeConfig(batch_size=16, n_concepts=4, top_patches=4,
                                                        featvis_steps=4, featvis_size=32,
                                                        featvis_channels=1),
                    cache_root=cache_root, progress=False, log=lambda *_: None)
    roots = {"STREETLENS_MODELS": str(Path(tiny_run.path).parent),
             "STREETLENS_CACHE": str(cache_root),
             "STREETLENS_DATA": str(Path(tiny_dataset.root).parent)}
    return tiny_run, cache, roots


@pytest.fixture
def dashboard_env(analysed_run, monkeypatch):
    """Point the dashboard at the analysed tiny run (env vars read by dashboard/state.py)."""
    run, cache, roots = analysed_run
    for k, v in roots.items():
        monkeypatch.setenv(k, v)
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
