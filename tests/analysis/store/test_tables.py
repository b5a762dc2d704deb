"""``column_names``: a parquet table's columns from its schema, whether it is one file, a
folder of parts, or a folder with its one-file copy."""

from __future__ import annotations

import pandas as pd

from analysis.store.shards import WHOLE, part_name
from analysis.store.tables import column_names


def test_column_names_of_a_file_parts_and_a_whole_copy(tmp_path):
    df = pd.DataFrame({"row": [0, 1], "id": ["a", "b"], "p": [0.5, 0.25]})
    df.to_parquet(tmp_path / "one.parquet", index=False)
    assert column_names(tmp_path / "one.parquet") == ["row", "id", "p"]

    folder = tmp_path / "parts"
    folder.mkdir()
    df.iloc[:1].to_parquet(folder / part_name(0), index=False)
    df.iloc[1:].to_parquet(folder / part_name(1), index=False)
    assert column_names(folder) == ["row", "id", "p"]

    df[["row", "id"]].to_parquet(folder / WHOLE, index=False)  # the copy is what readers read first
    assert column_names(folder) == ["row", "id"]
    assert column_names(tmp_path / "empty") == []
