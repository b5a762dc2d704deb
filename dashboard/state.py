"""Shared dashboard state: where things live, the selected run, cached loaders, and
filters kept in the URL (so a view can be shared or reopened).

Pages never compute heavy things: they read the run's analysis cache (memory-mapped
arrays, small tables) through the loaders here, which Streamlit caches per process.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
from PIL import Image, ImageOps

from analysis.data.dataset import Dataset
from analysis.store import (
    RunCache,
    ShardedArray,
    RunFiles,
    default_cache_root,
    default_data_root,
    default_models_root,
    analyses_of,
    file_fingerprint,
    split_analysis,
)
from analysis.store.tables import take_rows  # noqa: F401 - pages find rows through state
from analysis.train.runs import Run, list_runs, load_model, open_run


# ------------------------------------------------------------------ locations
def models_root() -> Path:
    return default_models_root()


def cache_root() -> Path:
    return default_cache_root()


def data_root() -> Path:
    return default_data_root()


# ------------------------------------------------------------------ URL state
def url_get(name: str, default=None, cast=str):
    """A value from the URL's query string (``?run=…&cls=…``), cast, or ``default``."""
    value = st.query_params.get(name)
    if value is None:
        return default
    try:
        return cast(value)
    except (TypeError, ValueError):
        return default


def url_set(**values) -> None:
    """Write values into the URL (None removes the key); unchanged keys are left alone."""
    for k, v in values.items():
        if v is None or v == "":
            if k in st.query_params:
                del st.query_params[k]
        elif st.query_params.get(k) != str(v):
            st.query_params[k] = str(v)


def url_selectbox(label: str, options: list, key: str, default=None, container=st, **kw):
    """A selectbox whose choice lives in the URL under ``key``."""
    if not options:
        return None
    current = url_get(key, default)
    index = options.index(current) if current in options else (
        options.index(default) if default in options else 0)
    choice = container.selectbox(label, options, index=index, key=f"w_{key}", **kw)
    if choice not in options:
        # Streamlit keeps a selectbox's value as its *label*: when ``format_func`` labels an
        # option differently now ("predicted (tokyo)" on the last image, "predicted (london)"
        # on this one), the old label comes back as the value. It means that option still.
        choice = options[index]
    url_set(**{key: choice})
    return choice


def pick_run_from_table(key: str) -> None:
    """A row click in the runs table ``key`` (its run names in ``session_state[key +
    "_names"]``) makes that run the selected one. A selection callback: it runs before the
    page, so it may set the run selector's state."""
    try:
        rows = list(st.session_state[key]["selection"]["rows"])
    except (KeyError, TypeError):
        return
    names = st.session_state.get(f"{key}_names", [])
    if rows and rows[0] < len(names):
        st.session_state["w_run"] = names[rows[0]]


# ------------------------------------------------------------------ chart clicks
def chart_points(event) -> list:
    """The points picked on a Plotly chart, from its selection state (what
    ``st.plotly_chart(on_select=...)`` returns and keeps in ``st.session_state[key]``):
    ``event["selection"]["points"]``, or [] when there is no event or no selection."""
    try:
        return list(event["selection"]["points"] or []) if event else []
    except (KeyError, TypeError):
        return []


# ------------------------------------------------------------------ loaders
@st.cache_data(ttl=10, show_spinner=False)
def _run_names(root: str, caches: str) -> list[str]:
    names = []
    for r in list_runs(Path(root)):
        names += [r.name, *analyses_of(r.name, caches)]
    return names


def run_names() -> list[str]:
    """What the run selector offers: every run under the current models root, each
    followed by its analyses on other datasets (``run@dataset``, made with ``streetlens
    analyze RUN --dataset OTHER``). Keyed on both roots: tests and users switch them."""
    return _run_names(str(models_root()), str(cache_root()))


@st.cache_resource(show_spinner=False)
def _run(path: str, mtime: float) -> Run:
    return open_run(Path(path))


def get_run(name: str) -> Run:
    """The run of a selector entry (``run`` or ``run@dataset``)."""
    files = RunFiles(models_root() / split_analysis(name)[0])
    return _run(str(files.root), files.info.stat().st_mtime)


@st.cache_resource(show_spinner="Loading the model …")
def _model(path: str, mtime: float):
    return load_model(open_run(Path(path)))


def get_model(run: Run):
    return _model(str(run.path), run.files.model.stat().st_mtime)


@st.cache_resource(show_spinner=False)
def _cache(path: str, mtime: float) -> RunCache:
    return RunCache(Path(path))


@st.cache_resource(show_spinner=False, max_entries=64)
def _manifest_path(name: str, root: str) -> Path:
    """Where analysis ``name``'s manifest lives (the store knows; its manifest is not read)."""
    return RunCache.for_run(name, root).manifest_path


def get_cache(run: Run, name: str | None = None) -> RunCache:
    """The analysis ``name`` (``run@dataset``) of ``run``, by default its own (opened once
    per version of its manifest)."""
    manifest = _manifest_path(name or run.name, str(cache_root()))
    return _cache(str(manifest.parent), manifest.stat().st_mtime if manifest.exists() else 0.0)


@st.cache_data(show_spinner=False)
def _table(root: str, name: str, mtime: float, _cache: RunCache) -> pd.DataFrame:
    return _cache.table(name)


def table(cache: RunCache, name: str) -> pd.DataFrame:
    """Table artefact ``name`` of the cache (read once per change of the file)."""
    return _table(str(cache.root), name, cache.mtime(name), cache)


# string columns of the samples table with a handful of values: read as categoricals (a
# million rows of them take 5 MB instead of 65 MB, and compare as fast)
LABEL_COLUMNS = ("class", "group", "split", "pred_class", "pred_group")


# one shared frame per (table, columns, version), not a copy per rerun: a million-row samples
# table would cost 0.3 s of unpickling on every run. Callers never modify it (pandas
# operations return new frames; nothing here assigns into it).
@st.cache_resource(show_spinner=False, max_entries=16)
def _columns(root: str, name: str, columns: tuple[str, ...] | None, mtime: float, _cache: RunCache) -> pd.DataFrame:
    cache = _cache
    if columns is None:
        return cache.table(name, categorical=LABEL_COLUMNS)
    return _from_read_columns(cache, name, columns, mtime)


# every column read once per version of its table, whichever page asked first: pages ask
# for different sets (Errors 12 columns, Sample 15, the Atlas 6 …), and a million ids alone
# took 0.3–0.5 s to read. The tables used last are kept (as many as _columns keeps frames).
_READ_COLUMNS: OrderedDict[tuple[str, str], tuple[float, dict[str, pd.Series]]] = OrderedDict()
_READ_TABLES = 16
_READ_LOCK = threading.Lock()


def _from_read_columns(cache: RunCache, name: str, columns: tuple[str, ...], mtime: float) -> pd.DataFrame:
    """``columns`` of table ``name``, reading only those no page has read yet (one read)."""
    key = (str(cache.root), name)
    with _READ_LOCK:
        version, have = _READ_COLUMNS.get(key, (None, {}))
        if version != mtime:
            have = {}
            _READ_COLUMNS[key] = (mtime, have)
        _READ_COLUMNS.move_to_end(key)
        while len(_READ_COLUMNS) > _READ_TABLES:
            _READ_COLUMNS.popitem(last=False)
        missing = [c for c in dict.fromkeys(columns) if c not in have]
        if missing:
            read = cache.table_columns(name, missing, categorical=LABEL_COLUMNS)
            have.update({c: read[c] for c in missing})
        return pd.DataFrame({c: have[c] for c in dict.fromkeys(columns)}, copy=False)


def preload_columns(cache: RunCache, name: str, cols: tuple[str, ...]) -> None:
    """Read ``cols`` of table ``name`` into the column store now (no Streamlit call: safe
    from a background thread), so a page's ``columns`` later finds them read."""
    _from_read_columns(cache, name, tuple(cols), cache.mtime(name))


def columns(cache: RunCache, name: str, cols: tuple[str, ...] | list[str] | None = None) -> pd.DataFrame:
    """Only ``cols`` of table ``name`` (all with None), its label columns categorical; read
    once per change of the table and shared (read-only: never assign into it)."""
    return _columns(str(cache.root), name, tuple(cols) if cols is not None else None, cache.mtime(name), cache)


# a split's rows, shared like the columns: selecting a third of a million rows (the id column
# is arrow strings) took 0.23 s on every run of the Errors page
@st.cache_resource(show_spinner=False, max_entries=8)
def _split_rows(root: str, split: str, cols: tuple[str, ...], mtime: float, _sel: "Selection") -> pd.DataFrame:
    from analysis.explain.mistakes import in_split

    return in_split(_sel.samples(*cols), split)


def split_rows(sel: "Selection", split: str, cols: tuple[str, ...]) -> pd.DataFrame:
    """``cols`` of the samples rows in ``split`` (``mistakes.in_split``: "all", "held-out",
    or a split's name), one shared frame per split, columns and version (read-only)."""
    return _split_rows(str(sel.cache.root), split, tuple(cols), sel.cache.mtime("samples"), sel)


def sample_rows(sel: "Selection", rows, cols: tuple[str, ...] = ()) -> pd.DataFrame:
    """The samples records of cache rows ``rows`` (in that order; with ``cols``: only those
    and ``row``), from the shared table, index reset."""
    df = sel.samples(*dict.fromkeys(("row", *cols))) if cols else sel.samples()
    return take_rows(df, rows).reset_index(drop=True)


@st.cache_data(show_spinner=False, max_entries=256)
def _records(root: str, name: str, rows: tuple[int, ...], cols: tuple[str, ...], mtime: float,
             _cache: RunCache) -> pd.DataFrame:
    return _cache.table_rows(name, list(rows), list(cols))


def records(sel: "Selection", rows, cols: tuple[str, ...], name: str = "samples") -> pd.DataFrame:
    """``row`` and ``cols`` of the cache rows ``rows`` (that order), read from just the shards
    that hold them (``RunCache.table_rows``): for the few images a page shows, a column a
    page does not otherwise need (a million paths take 0.4 s to read whole)."""
    rows = tuple(int(r) for r in rows)
    return _records(str(sel.cache.root), name, rows, tuple(cols), sel.cache.mtime(name), sel.cache)


@st.cache_resource(show_spinner=False)
def _array(root: str, name: str, mtime: float, _cache: RunCache) -> ShardedArray:
    return _cache.array(name)


def array(cache: RunCache, name: str) -> ShardedArray:
    """Array artefact ``name``, opened once per process; index it for the rows a page shows."""
    return _array(str(cache.root), name, cache.mtime(name), cache)


def make_thumbnail(path: str | Path, size: int = 160) -> bytes:
    """A JPEG thumbnail no larger than ``size``×``size``, upright by the EXIF orientation.

    Pillow's ``thumbnail`` with a reducing gap decodes a JPEG at reduced scale (``draft``)
    and maps the exact source area, so a 4000×3000 crawled photo is never decoded whole and
    the result has the size of a thumbnail of the fully decoded image."""
    with Image.open(path) as im:
        im.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
        rgb = ImageOps.exif_transpose(im.convert("RGB"))
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@st.cache_data(show_spinner=False, max_entries=4096)
def thumbnail_bytes(path: str, size: int = 160) -> bytes:
    """A JPEG thumbnail (:func:`make_thumbnail`), made lazily and cached (pages show many)."""
    return make_thumbnail(path, size)


@st.cache_data(show_spinner=False)
def _fingerprints(run_path: str, dataset_root: str, mtime_model: float, mtime_table: float) -> tuple[str, str]:
    return file_fingerprint(RunFiles(run_path).model), Dataset(Path(dataset_root)).usable_fingerprint()


@dataclass
class Selection:
    """The run a page works on, with its cache and dataset."""

    run: Run
    cache: RunCache
    dataset: Dataset
    problems: list[str]
    selected: str | None = None  # the selector's entry when it is not the run itself

    @property
    def name(self) -> str:
        """What links and commands name: ``run``, or ``run@dataset`` for the run's
        analysis of another dataset."""
        return self.selected or self.run.name

    @property
    def labels(self):
        return self.run.labels

    @property
    def ready(self) -> bool:
        return self.cache.exists() and self.cache.stage_done("forward")

    def samples(self, *cols: str) -> pd.DataFrame:
        """The samples table (only ``cols`` when given; label columns categorical)."""
        return columns(self.cache, "samples", cols or None)

    def image_path(self, rel: str) -> Path:
        return self.dataset.image_path(rel)


def select_run(container=None) -> Selection | None:
    """The sidebar run selector (kept in the URL as ``run``). Shows what to do when
    there is no run or no analysis, and a warning when the cache is stale."""
    container = container or st.sidebar
    names = run_names()
    if not names:
        st.info("No trained run yet. Build the offline demo with `streetlens demo` (about "
                "4.5 minutes on a 2-core CPU, with the Places365 run), or train one: `streetlens train --dataset D --backbone B --mode M`, "
                "then `streetlens analyze RUN`.")
        return None
    name = url_selectbox("Run", names, "run", container=container,
                         help="A run, or a run's analysis of another dataset (run@dataset).")
    sel = selection_of(name)
    if sel.selected:
        container.caption(f"{sel.run.name} explained on dataset **{sel.dataset.name}** (not the one it was "
                          "trained on).")
    return sel


def selection_of(name: str) -> Selection:
    """The selection for a selector entry (``run`` or ``run@dataset``): its run, its
    analysis, the dataset that analysis was made on, and what is stale."""
    run = get_run(name)
    cache = get_cache(run, name)
    on = split_analysis(name)[1]
    dataset = Dataset(Path(cache.manifest.get("dataset") if on else run.info["dataset"]["path"]))
    problems = []
    if not dataset.exists():
        problems.append(f"the dataset is not at {dataset.root} any more")
    elif cache.exists():
        model_fp, data_fp = _fingerprints(str(run.path), str(dataset.root),
                                          run.files.model.stat().st_mtime,
                                          dataset.table_path.stat().st_mtime)
        problems = cache.problems(model_fp, data_fp)
    else:
        problems = cache.problems()
    return Selection(run, cache, dataset, problems, name if on else None)


def require_analysis(sel: Selection | None) -> Selection:
    """Stop the page with a clear note unless the selected run has been analysed;
    warn (but go on) when the analysis is stale."""
    if sel is None:
        st.stop()
    if not sel.ready:
        st.warning(f"Run **{sel.name}** has not been analysed yet: run "
                   f"`streetlens analyze {sel.name}` (progress is shown in the terminal).")
        st.stop()
    for p in sel.problems:
        st.warning(f"Stale analysis: {p}")
    return sel
