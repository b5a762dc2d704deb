"""Row lookups in the shared per-image tables (``dashboard/state.py``): by binary search
when the table is in row order, by index otherwise; rows not in the table are left out."""

from __future__ import annotations

import pandas as pd

from dashboard import state


def test_take_rows_in_the_asked_order_leaving_out_absent_rows():
    df = pd.DataFrame({"row": [0, 1, 2, 3, 7], "id": list("abcde")})
    assert state.take_rows(df, [7, 0, 5, 2])["id"].tolist() == ["e", "a", "c"]
    shuffled = df.iloc[[4, 2, 0, 1, 3]]
    assert state.take_rows(shuffled, [7, 0, 5, 2])["id"].tolist() == ["e", "a", "c"]
    assert state.take_rows(df.head(0), [1]).empty
    assert state.take_rows(df, [])["id"].tolist() == []


def test_split_rows_are_in_split_of_the_columns_and_shared(dashboard_env):
    from analysis.explain import mistakes

    run, _ = dashboard_env
    sel = state.selection_of(run.name)
    cols = ("row", "id", "split", "correct")
    for split in ("held-out", "test", "all"):
        got = state.split_rows(sel, split, cols)
        pd.testing.assert_frame_equal(got, mistakes.in_split(sel.samples(*cols), split))
        assert state.split_rows(sel, split, cols) is got  # one frame per split and version
    assert set(state.split_rows(sel, "held-out", cols)["split"]) <= {"val", "test"}
