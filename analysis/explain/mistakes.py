"""Where a run goes wrong: confusion counts, error rates and the images behind a cell,
all from the analysis's samples table (one row per image with both heads' predictions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

HEADS = {"city": ("class", "pred_class", "correct", "p_pred"),
         "group": ("group", "pred_group", "correct_group", "p_group")}
"""Per head: (true column, predicted column, correct column, confidence column)."""
PER_CELL = 96
"""Mistakes whose concepts are explained per confusion cell at most: the most confident (the
Errors page lists at most 96 images of a cell)."""


def in_split(samples: pd.DataFrame, split: str) -> pd.DataFrame:
    """The rows of ``split``: "all", "held-out" (val and test), or one split's name."""
    if split == "all":
        return samples
    if split == "held-out":
        return samples[samples["split"].isin(["val", "test"])]
    return samples[samples["split"] == split]


def most_confident_per_cell(sub: pd.DataFrame, per_cell: int = PER_CELL) -> pd.DataFrame:
    """The misclassified images of ``sub`` (city head) that get their concepts explained:
    each confusion cell's ``per_cell`` most confident ones (all of them when there are no
    more than ``per_cell`` mistakes), in ``sub``'s order."""
    wrong = sub[~sub["correct"].to_numpy(bool)]
    if len(wrong) <= per_cell:
        return wrong
    ranked = wrong.sort_values("p_pred", ascending=False, kind="stable")
    keep = ranked.groupby([ranked["class"].astype(str), ranked["pred_class"].astype(str)], sort=False).head(per_cell)
    return wrong.loc[wrong.index.isin(keep.index)]


def confusion_counts(samples: pd.DataFrame, labels: Sequence[str], head: str = "city") -> np.ndarray:
    """(K, K) counts, rows = true, columns = predicted (rows with an unknown label left out)."""
    true_col, pred_col, _, _ = HEADS[head]
    k = len(labels)
    t, p = _codes(samples[true_col], labels), _codes(samples[pred_col], labels)
    known = (t >= 0) & (p >= 0)  # codes are -1 for a label not in ``labels``
    return np.bincount(t[known] * k + p[known], minlength=k * k).reshape(k, k).astype(np.int64)


def _codes(values: pd.Series, labels: Sequence[str]) -> np.ndarray:
    """Each value's index in ``labels`` (-1 for another value), without a string per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        idx = pd.Index(list(labels)).get_indexer(values.cat.categories.astype(str))
        codes = values.cat.codes.to_numpy(np.int64)
        return np.where(codes >= 0, np.append(idx, -1)[codes], -1)
    return pd.Index(list(labels)).get_indexer(values.astype(str)).astype(np.int64)


def _rates(samples: pd.DataFrame, by: str, ok_col: str, order: Sequence[str], name: str) -> pd.DataFrame:
    g = samples.groupby(by)[ok_col].agg(images="size", right="sum").reindex(list(order)).fillna(0)
    g["errors"] = (g["images"] - g["right"]).astype(int)
    g["images"] = g["images"].astype(int)
    g["error_rate"] = np.where(g["images"] > 0, g["errors"] / g["images"].clip(lower=1), np.nan)
    return g[["images", "errors", "error_rate"]].rename_axis(name).reset_index()


def error_rates(samples: pd.DataFrame, labels: Sequence[str], head: str = "city") -> pd.DataFrame:
    """Per true class (or group): images, errors and error rate, in label order."""
    true_col, _, ok_col, _ = HEADS[head]
    return _rates(samples, true_col, ok_col, labels, head)


def group_errors_by_city(samples: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Per true city: images, group-head errors and their rate (``error_rates`` layout)."""
    return _rates(samples, "class", "correct_group", classes, "city")


def cell_rows(samples: pd.DataFrame, true: str, pred: str, head: str = "city") -> pd.DataFrame:
    """The images of one confusion cell: mistakes most confident first, a diagonal cell
    least confident first (the near-misses)."""
    t, p, _, conf = HEADS[head]
    rows = samples[(samples[t] == true) & (samples[p] == pred)]
    return rows.sort_values(conf, ascending=(true == pred), kind="stable")


def confident_mistakes(samples: pd.DataFrame, head: str = "city", n: int = 10) -> pd.DataFrame:
    """The ``n`` wrong images the head was surest of."""
    _, _, ok, conf = HEADS[head]
    return samples[~samples[ok].astype(bool)].sort_values(conf, ascending=False, kind="stable").head(n)


def default_cell(cm: np.ndarray, labels: Sequence[str]) -> tuple[str, str]:
    """The off-diagonal cell with most images, or the first class's diagonal."""
    off = np.array(cm, copy=True)
    np.fill_diagonal(off, -1)
    if off.size and off.max() > 0:
        i, j = np.unravel_index(int(off.argmax()), off.shape)
        return labels[i], labels[j]
    return labels[0], labels[0]
