"""The dataset tables the Datasets and Curate pages read, cached once per version of a table.

They live here, not in the page scripts, so that the server's warm-up (``first_views``) fills
the very caches the pages read: Streamlit keys a cached function by its module, and a page
script runs as ``__main__``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.data import review
from analysis.data import scores as scoring
from analysis.data.dataset import Dataset
from analysis.data.summary import class_samples, count_table

# ------------------------------------------------------------------ Datasets page
MAX_THUMBS = 16


@st.cache_data(show_spinner=False, max_entries=8)
def _overview(root: str, mtime_ns: int, size: int) -> tuple[int, pd.DataFrame, list[tuple[str, str, int, list[str]]]]:
    ds = Dataset(root)
    df = ds.read(["class", "group", "split"])
    return len(df), count_table(df), class_samples(ds, df, MAX_THUMBS)


def overview(ds: Dataset) -> tuple[int, pd.DataFrame, list[tuple[str, str, int, list[str]]]]:
    """(images, count table, per class: name, group, images, up to MAX_THUMBS sample paths),
    read once per version of the table (a million-row table takes seconds to read).
    DatasetError / OSError when the table cannot be read."""
    return _overview(str(ds.root), *table_key(ds))


# ------------------------------------------------------------------ Curate page
# what Curate reads of the dataset table: 8 of its 14 columns (the hashes, licences and
# dates of a million images took most of the 2 s the whole table took to read; the source,
# shown for the focused image only, is read for the page's images, ``page_sources``)
TABLE_COLUMNS = ("id", "path", "class", "group", "curated", "group_id", "width", "height")


def table_key(ds: Dataset) -> tuple[int, int]:
    """The version of the dataset table (every decision replaces the file)."""
    st_ = ds.table_path.stat()
    return st_.st_mtime_ns, st_.st_size


def scores_key(ds: Dataset) -> int:
    p = ds.files.scores
    return p.stat().st_mtime_ns if p.is_file() else 0


# Shared, not copied (cache_resource): a copy is unpickled on every rerun, 1.7 s for a
# million-image table. Read-only: the page and what it calls never assign into them.
@st.cache_resource(show_spinner=False, max_entries=8)
def _table(root: str, mtime_ns: int, size: int) -> pd.DataFrame:
    return Dataset(Path(root)).read(list(TABLE_COLUMNS))


def load_table(ds: Dataset) -> pd.DataFrame:
    return _table(str(ds.root), *table_key(ds))


@st.cache_resource(show_spinner=False, max_entries=8)
def _scores(root: str, mtime_ns: int) -> tuple[pd.DataFrame | None, dict]:
    df = scoring.load_scores(Dataset(Path(root)))
    return df, (dict(df.attrs) if df is not None else {})


def load_scores(ds: Dataset) -> tuple[pd.DataFrame | None, dict]:
    return _scores(str(ds.root), scores_key(ds))


# the review order of a class, shared until the table or the scores change: a class of a
# million-image dataset took 0.6 s to order on every rerun (paging, a toggle)
@st.cache_resource(show_spinner=False, max_entries=16)
def _queue(root: str, table_key: tuple, scores_key: int, cls: str, show: str, order: str, keep_groups: bool,
           _table: pd.DataFrame, _scores: pd.DataFrame | None) -> pd.DataFrame:
    return review.review_queue(_table, _scores, cls, show=show, order=order, keep_groups=keep_groups)


def load_queue(ds: Dataset, table: pd.DataFrame, scores: pd.DataFrame | None, cls: str, *, show: str = "all",
               order: str = "street", keep_groups: bool = True) -> pd.DataFrame:
    """``review.review_queue`` of ``cls`` (read-only: shared between reruns)."""
    return _queue(str(ds.root), table_key(ds), scores_key(ds), cls, show, order, keep_groups, table, scores)


# where the page's images came from, read for those rows only, once per page and version of
# the table (a decision replaces the table; no writer moves a row, so positions stay valid).
# Reading the column for the focused image on every rerun took 0.1-0.5 s at a million rows;
# by id, 1 s
@st.cache_data(show_spinner=False, max_entries=64)
def page_sources(root: str, table_key: tuple, ids: tuple[str, ...], rows: tuple[int, ...]) -> dict[str, str | None]:
    """``source`` of the images ``ids`` at table positions ``rows`` (``review_queue``'s
    ``table_row``), read from the row groups that hold them."""
    return dict(zip(ids, Dataset(Path(root)).values_at("source", rows)))
