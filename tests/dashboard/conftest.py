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
