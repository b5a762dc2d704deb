"""The warm-up's first views (dashboard/first_views.py): what each computes is exactly what its
page then reads from Streamlit's cache, so the page's first run computes none of it again.
Each page is run twice under AppTest on the analysed tiny run: with cold caches (the counted
work happens: the counters see it) and after ``warm_first_views`` (it does not)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import streamlit as st

from dashboard import first_views, state, warmup

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "app_pages"


@pytest.fixture
def counted(monkeypatch):
    """Counts the work the first views are there to do ahead: Errors' split rows, contrast
    tables and strips (their Grad-CAM overlays), Curate's table and review order, Datasets'
    counts."""
    from analysis.data import review
    from analysis.data.dataset import Dataset
    from analysis.explain import mistakes
    from analysis.precompute import concept_views
    from dashboard import dataset_tables
    from dashboard.figures import images

    calls: Counter = Counter()

    def count(owner, name, label):
        real = getattr(owner, name)

        def wrapper(*a, **kw):
            calls[label] += 1
            return real(*a, **kw)

        monkeypatch.setattr(owner, name, wrapper)

    count(mistakes, "in_split", "errors: split rows")
    count(concept_views, "stored_explanations", "errors: explanations")
    count(concept_views, "error_explanations", "errors: explanations")
    count(concept_views, "stored_pair_view", "errors: pairs")
    count(concept_views, "pair_view", "errors: pairs")
    count(images, "gradcam_overlay", "errors: strips")
    count(review, "review_queue", "curate: queue")
    count(dataset_tables, "count_table", "datasets: counts")
    real_read = Dataset.read

    def read(self, columns=None):
        if columns is not None and tuple(columns) == dataset_tables.TABLE_COLUMNS:
            calls["curate: table"] += 1
        return real_read(self, columns)

    monkeypatch.setattr(Dataset, "read", read)
    return calls


def _run(page: str, run_name: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=120)
    at.query_params["run"] = run_name
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _cold() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


EXPECTED = {"errors": {"errors: split rows", "errors: explanations", "errors: pairs", "errors: strips"},
            "datasets": {"datasets: counts"}, "curate": {"curate: table", "curate: queue"}}


@pytest.mark.parametrize("page", list(first_views.FIRST_VIEWS))
def test_a_first_view_is_what_its_page_then_reads(page, dashboard_env, counted):
    run, _ = dashboard_env
    _cold()
    _run(page, run.name)
    mine = {k for k in counted if k.startswith(page + ":")}
    assert mine == EXPECTED[page], counted  # cold: the page does all of that work itself

    _cold()
    sel = state.selection_of(run.name)
    done = warmup.warm_first_views(sel, {page: first_views.FIRST_VIEWS[page]})
    assert set(done) == {page}
    counted.clear()
    _run(page, run.name)
    assert not {k: v for k, v in counted.items() if k.startswith(page + ":")}, counted  # warmed: found made


def test_a_failing_view_is_skipped_and_the_rest_run(dashboard_env):
    run, _ = dashboard_env
    sel = state.selection_of(run.name)
    ran = []

    def broken(_sel, wait, warn):
        raise OSError("damaged table")

    done = warmup.warm_first_views(sel, {"curate": broken, "datasets": lambda s, wait, warn: ran.append(s)})
    assert list(done) == ["datasets"] and ran == [sel]


def test_the_errors_page_reads_the_warmed_columns():
    from dashboard import errors_view
    from dashboard.app_pages import errors

    assert errors.COLUMNS is errors_view.COLUMNS
    assert set(errors_view.COLUMNS) <= set(warmup.SAMPLE_COLUMNS)


def test_warm_runs_every_step_even_when_one_fails(dashboard_env, monkeypatch):
    """``warm`` with a selection: imports, the first views (each waiting for pages between its
    steps), then the Atlas tiles; an early step that raises is logged and the rest still run."""
    from dashboard import atlas_map

    run, _ = dashboard_env
    sel = state.selection_of(run.name)

    def broken():
        raise RuntimeError("a library changed")

    monkeypatch.setattr(warmup, "warm_streamlit", broken)
    order, waits = [], []
    monkeypatch.setattr(warmup, "wait_for_pages", lambda timeout=None: waits.append(1) or True)
    monkeypatch.setattr(first_views, "FIRST_VIEWS", {
        p: (lambda s, wait, warn, p=p, v=v: (order.append(p), wait(), v(s, wait, warn)))
        for p, v in first_views.FIRST_VIEWS.items()})
    monkeypatch.setattr(atlas_map, "warm_thumbnails", lambda s, wait: order.append("atlas") or 0)
    _cold()
    out = warmup.warm(sel.cache, sel=sel)
    assert set(out["first_views_s"]) == {"errors", "datasets", "curate"}
    assert order == ["errors", "datasets", "curate", "atlas"] and "columns_s" in out
    assert len(waits) > 10
