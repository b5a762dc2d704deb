"""Which images the reliability checks look at, and the long form of their results."""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = {"check": "", "metric": "", "method": "", "mode": "", "step": -1, "layer": "",
           "milestone": "", "subset": "", "class": "", "value": np.nan, "std": np.nan, "n": 0}
"""The reliability table's columns with the value a check that has no such column gets."""


def choose_sample(samples: pd.DataFrame, n: int, seed: int, split: str | None = "test",
                  correct_only: bool = True) -> np.ndarray:
    """Rows (``samples["row"]``) of up to ``n`` images of ``split`` (all splits when it is
    None or has no images), correctly classified ones only unless there are none, taking
    one image per class in turn (seeded shuffle within each class)."""
    pool = samples if split is None else samples[samples["split"] == split]
    if pool.empty:
        pool = samples
    if correct_only and pool["correct"].any():
        pool = pool[pool["correct"]]
    rng = np.random.default_rng(seed)
    per_class = [list(rng.permutation(g["row"].to_numpy())) for _, g in pool.groupby("class", sort=True)]
    out = []
    while len(out) < n and any(per_class):
        for lst in per_class:
            if lst and len(out) < n:
                out.append(int(lst.pop(0)))
    return np.asarray(out, dtype=np.int64)


def long_form(df: pd.DataFrame, check: str) -> pd.DataFrame:
    """One check's results in the table's columns (missing ones filled in)."""
    df = df.copy()
    df["check"] = check
    for col, default in COLUMNS.items():
        if col not in df:
            df[col] = default
        elif default is not np.nan and not isinstance(default, float):
            df[col] = df[col].fillna(default)
    df = df[list(COLUMNS)]
    return df.astype({"step": "int64", "n": "int64", "value": "float64", "std": "float64"})
