"""``state.columns``: every column of a table is read once per version of the table,
whichever page asks first; a page's frame equals reading its columns directly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard import state


def test_columns_are_read_once_and_frames_equal_direct_reads(tmp_path, counting_cache):
    df = pd.DataFrame({"row": np.arange(6), "id": [f"im{i}" for i in range(6)],
                       "class": ["tokyo", "paris"] * 3, "p_pred": np.linspace(0, 1, 6)})
    cache = counting_cache(tmp_path / "run")
    cache.write_table("samples", df)

    first = state._from_read_columns(cache, "samples", ("row", "class"), 1.0)
    second = state._from_read_columns(cache, "samples", ("class", "id", "row"), 1.0)
    assert cache.reads == [["row", "class"], ["id"]]  # "row" and "class" were not read again
    direct = cache.table_columns("samples", ["class", "id", "row"], categorical=state.LABEL_COLUMNS)
    pd.testing.assert_frame_equal(second, direct)
    pd.testing.assert_frame_equal(first, direct[["row", "class"]])
    assert isinstance(first["class"].dtype, pd.CategoricalDtype)

    cache.write_table("samples", df.assign(p_pred=0.5))  # a new version: read again
    cache.reads.clear()
    again = state._from_read_columns(cache, "samples", ("p_pred",), 2.0)
    assert cache.reads == [["p_pred"]] and (again["p_pred"] == 0.5).all()


def test_only_the_tables_used_last_are_kept(tmp_path, monkeypatch, counting_cache):
    monkeypatch.setattr(state, "_READ_TABLES", 1)
    caches = []
    for name in ("a", "b"):
        cache = counting_cache(tmp_path / name)
        cache.write_table("samples", pd.DataFrame({"row": np.arange(3)}))
        caches.append(cache)
    a, b = caches
    state._from_read_columns(a, "samples", ("row",), 1.0)
    state._from_read_columns(b, "samples", ("row",), 1.0)  # a's columns make room
    state._from_read_columns(a, "samples", ("row",), 1.0)
    assert a.reads == [["row"], ["row"]] and b.reads == [["row"]]
