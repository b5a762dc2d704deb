"""A run explained on another dataset (``streetlens analyze RUN --dataset OTHER``): the
dashboard lists the analysis as ``run@dataset`` beside the run and opens it on that
dataset's images, while the run's own analysis stays as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "app_pages"


@pytest.fixture
def foreign(analysed_run, tiny_dataset, tmp_path, point_dashboard):
    from analysis.data.dataset import Dataset
    from analysis.precompute import AnalyzeConfig, analyze

    run, cache, roots = analysed_run
    models, caches = tmp_path / "models", tmp_path / "cache"
    shutil.copytree(run.path, models / run.name)
    shutil.copytree(cache.root, caches / run.name)
    crawl = Dataset(tmp_path / "data" / "crawl")
    shutil.copytree(tiny_dataset.root, crawl.root)
    df = crawl.read()
    crawl.write(df[df["class"] != "seoul"].reset_index(drop=True))
    analyze(models / run.name, dataset=str(crawl.root), cache_root=caches, progress=False, log=lambda m: None,
            config=AnalyzeConfig(batch_size=16, stages=("forward", "map", "class_means")))
    point_dashboard({**roots, "STREETLENS_MODELS": str(models), "STREETLENS_CACHE": str(caches)})
    return run.name, f"{run.name}@crawl", crawl


def open_page(page: str, **params) -> AppTest:
    import streamlit as st

    st.cache_data.clear()
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def test_the_selector_offers_the_analysis_and_overview_says_how_the_run_does_there(foreign):
    run, name, crawl = foreign
    at = open_page("overview", run=name)
    assert not at.exception and not at.error
    assert at.selectbox(key="w_run").options == [run, name]
    assert at.selectbox(key="w_run").value == name
    labels = [m.label for m in at.metric]
    assert "City accuracy on crawl" in labels and "Images" in labels
    images = next(m for m in at.metric if m.label == "Images")
    assert images.value == f"{len(crawl.usable()):,}"
    assert any("explained on dataset **crawl**" in c.value for c in at.sidebar.caption)


def test_sample_page_shows_the_other_datasets_images_and_links_keep_the_analysis(foreign):
    from analysis.store import RunCache

    run, name, crawl = foreign
    samples = RunCache.for_run(name).samples()
    assert set(samples["class"]) == {"tokyo", "paris"}
    at = open_page("sample", run=name, id=str(samples["id"].iloc[0]))
    assert not at.exception and not at.error
    assert at.selectbox(key="w_run").value == name
    assert any(str(samples["id"].iloc[0]) in m.value for m in at.markdown)


def test_comparing_the_run_with_its_analysis_of_another_dataset_is_refused_in_one_line(foreign):
    run, name, _ = foreign
    at = open_page("compare", a=run, b=name)
    assert not at.exception
    assert any("different datasets" in e.value for e in at.error)
