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
