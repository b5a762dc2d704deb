"""A fresh dashboard server warms up in the background, after its first page is drawn.

Why: on the million-image cache a page's first visit in a fresh server took 1.3–3.1 s and
its second 0.15–0.5 s (server side). The difference is paid once per process: importing
what the page imports (plotly figures, the explain modules, pyarrow's readers) and reading
the samples table's columns (a million rows). So once the first page of a server is drawn,
a daemon thread imports what every page imports, reads the columns the pages share for the
run that page showed, builds the Sample page's id index, computes what the slowest pages
show first (``first_views``: Errors, Datasets, Curate) and makes the Atlas's photo tiles
of each zoom level (a zoom change's server time was mostly decoding them), while the user
reads it.
Nothing here draws anything or changes a result: the pages read the same columns through
``state.columns`` either way, only sooner.

``STREETLENS_DASHBOARD_WARMUP=0`` switches it off.
"""

from __future__ import annotations

import ast
import importlib
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from dashboard import process, state

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

SAMPLE_COLUMNS = ("row", "id", "class", "group", "split", "y_class", "y_group", "pred_class", "pred_group",
                  "p_pred", "p_true", "p_group", "margin", "correct", "correct_group")
"""The samples columns the pages read whole (Errors, Sample, the Atlas's points, Overview,
Portraits, the talk pack); ``tests/dashboard/test_warmup.py`` keeps it their union. Paths
are not among them: pages read those for the images they show (``state.records``)."""

log = logging.getLogger(__name__)


def enabled() -> bool:
    return os.environ.get("STREETLENS_DASHBOARD_WARMUP", "1").strip().lower() not in ("0", "false", "no", "off")


def page_imports(path: Path) -> list[str]:
    """The modules a page script imports at its top level, read from its source (the pages
    run code at import, so they are parsed, never imported): ``import a.b`` gives ``a.b``;
    ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a module)."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names if a.name != "*")]
    return list(dict.fromkeys(names))


def import_modules(names: list[str]) -> list[str]:
    """Import each of ``names`` that is a module; returns those now imported. A name that is
    not a module (a function imported from one) or fails to import is skipped: the page
    itself reports a real failure when it runs."""
    done = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - not a module, or a failure the page will show
            continue
        done.append(name)
    return done


def warm_plotly() -> None:
    """plotly loads each trace type and the validators of each property on first use (a
    quarter of a second of the Errors page's first visit): one tiny figure of every kind the
    pages draw, serialised once, loads them."""
    import plotly.graph_objects as go

    fig = go.Figure([go.Heatmap(z=[[0.0]], customdata=[[0]], hovertemplate="%{z}"), go.Bar(x=[0], y=[0]),
                     go.Scatter(x=[0], y=[0], mode="markers"), go.Scattergl(x=[0], y=[0]),
                     go.Image(z=[[[0, 0, 0]]]), go.Histogram(x=[0])])
    fig.add_shape(type="rect", x0=0, x1=1, y0=0, y1=1)
    fig.update_layout(title="t", xaxis=dict(title="x"), yaxis=dict(title="y"), legend=dict(orientation="h"))
    fig.to_json()


def warm_streamlit() -> None:
    """Streamlit's emoji catalogue: an alert (``st.info``, ``st.success``) whose text is not
    ASCII ("·", "—", "×" are everywhere here) looks for a leading emoji, and the first look
    imports the catalogue and compiles its pattern (0.2 s of the Reliability page's first
    visit)."""
    from streamlit import string_util

    string_util.extract_leading_emoji("· warm-up")


def warm_colour_maps() -> None:
    """The colour maps' look-up tables: the first one imports matplotlib (0.15 s of the
    Atlas's first visit), and Errors, Sample and the Atlas colour maps on their first visit."""
    from dashboard.figures import images

    for cmap in dict.fromkeys((images.DEFAULT_CMAP, *images.CMAPS)):
        images._lut(cmap)


# pages first: the warm-up waits while any page runs (each step is short: one module, one
# column), so a page opened during the warm-up is not slowed by it (the first page after a
# fresh server's start took 3.4-4.4 s instead of 1.1-1.6 s while both ran at once)
_RUNNING = 0
_IDLE = threading.Condition()
WAIT_S = 30.0


@contextmanager
def page_running():
    """Around a page's run: the warm-up waits until no page runs."""
    global _RUNNING
    with _IDLE:
        _RUNNING += 1
    try:
        yield
    finally:
        with _IDLE:
            _RUNNING -= 1
            _IDLE.notify_all()


def wait_for_pages(timeout: float = WAIT_S) -> bool:
    """Block while a page runs (at most ``timeout`` s); True when none does."""
    with _IDLE:
        return _IDLE.wait_for(lambda: _RUNNING == 0, timeout)


def warm(cache, pages_dir: Path = PAGES_DIR, sel=None) -> dict:
    """Import what the pages import (and load plotly's trace types, Streamlit's emoji
    catalogue, the colour maps), then read the shared samples columns of ``cache`` into
    ``state``'s column store and build the Sample page's id index, then (given the selection
    ``sel``) compute the slow pages' first views and make the Atlas's photo tiles of each
    zoom level; one step at a time, each after the pages running have finished. Returns the
    seconds of each part."""
    # what every page needs first (a page opened at once pays the rest itself): the imports
    t0 = time.perf_counter()
    for page in sorted(Path(pages_dir).glob("*.py")):
        for name in page_imports(page):
            wait_for_pages()
            import_modules([name])
    for step in (warm_plotly, warm_streamlit, warm_colour_maps):
        wait_for_pages()
        try:  # one failing step (a library's change) must not stop the rest of the warm-up
            step()
        except Exception as exc:  # noqa: BLE001 - the page does the same work itself when it runs
            log.info("dashboard warm-up: %s skipped: %s", step.__name__, exc)
    process.single_threaded_blas()  # the imports may have loaded another BLAS (scipy's)
    t1 = time.perf_counter()
    if cache.has("samples"):
        have = set(cache.table_column_names("samples"))
        for c in (c for c in SAMPLE_COLUMNS if c in have):
            wait_for_pages()
            state.preload_columns(cache, "samples", (c,))
        if "id" in have:  # the Sample page's id → position index (0.25-0.4 s at a million ids)
            from dashboard.sample import picker

            wait_for_pages()
            picker.id_index(str(cache.root), cache.mtime("samples"), state.columns(cache, "samples", ("id",)))
    t2 = time.perf_counter()
    out = {"imports_s": round(t1 - t0, 2), "columns_s": round(t2 - t1, 2)}
    if sel is not None:
        out["first_views_s"] = warm_first_views(sel)
        from dashboard import atlas_map

        t3 = time.perf_counter()
        out["atlas_tiles"] = atlas_map.warm_thumbnails(sel, wait_for_pages)
        out["atlas_s"] = round(time.perf_counter() - t3, 2)
    return out


def warm_first_views(sel, views=None) -> dict:
    """Compute what the slow pages show first (``first_views.FIRST_VIEWS``), one page at a
    time, each step after the pages running have finished; a view that fails (no dataset, a
    damaged table) is skipped, and what a page would warn about is logged, never drawn: its
    page says what is wrong when it is opened. Seconds per page."""
    from dashboard import first_views

    done = {}
    for page, view in (first_views.FIRST_VIEWS if views is None else views).items():
        wait_for_pages()
        t = time.perf_counter()
        try:
            view(sel, wait_for_pages, lambda line, page=page: log.info("dashboard warm-up, %s: %s", page, line))
        except Exception as exc:  # noqa: BLE001 - the page reports it when opened
            log.info("dashboard warm-up: %s view skipped: %s", page, exc)
            continue
        done[page] = round(time.perf_counter() - t, 2)
    return done


def _warm_quietly(sel) -> None:
    try:
        log.info("dashboard warm-up: %s", warm(sel.cache, sel=sel))
    except Exception as exc:  # noqa: BLE001 - a warm-up must never break a page; the page reads again
        log.info("dashboard warm-up stopped: %s", exc)


@st.cache_resource(show_spinner=False)
def _started(root: str, mtime: float, _sel) -> threading.Thread:
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    thread = threading.Thread(target=_warm_quietly, args=(_sel,), name="streetlens-warmup", daemon=True)
    # Streamlit's caches (the id index) are called from it: it runs in the context of the
    # session that started it, as Streamlit's docs ask of threads; it draws nothing
    add_script_run_ctx(thread, get_script_run_ctx())
    thread.start()
    return thread


def start() -> threading.Thread | None:
    """Warm this server for the run in the URL (else the selector's first), once per
    process and version of its samples table; called after a page was drawn."""
    if not enabled():
        return None
    names = state.run_names()
    if not names:
        return None
    name = state.url_get("run")
    sel = state.selection_of(name if name in names else names[0])
    if not sel.ready:
        return None
    return _started(str(sel.cache.root), sel.cache.mtime("samples"), sel)
