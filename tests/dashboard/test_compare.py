"""Compare page: with one run it says what to do; with two runs (here a copy of the
analysed run under another name, so the oracle is known: no difference, CKA 1) it shows
the verdict, the charts and the agreement cells, from the URL."""

from __future__ import annotations

import json
import shutil

import pytest

PAGE = "compare"


def test_one_run_says_how_to_get_a_second(dashboard_env, run_page, no_problems):
    at = run_page()
    no_problems(at)
    assert any("needs two trained and analysed runs" in i.value for i in at.info)


@pytest.fixture
def two_runs(analysed_run, tmp_path, monkeypatch):
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


def test_two_runs_from_the_url(two_runs, run_page, no_problems):
    a, b = two_runs
    at = run_page(a=a, b=b, split="all")
    no_problems(at)
    text = " ".join(m.value for m in at.markdown)
    assert "a difference of +0.0%, McNemar p = 1.000: **not significant**" in text
    assert "pooled features on these images: **1.000**" in text
    assert [t.label.split(" (")[0] for t in at.tabs] == ["both right", "only A right", "only B right", "both wrong"]
    assert at.selectbox(key="w_a").value == a and at.selectbox(key="w_b").value == b
