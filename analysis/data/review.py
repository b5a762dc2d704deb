"""The order in which a class is reviewed on the Curate page: worst first (low street
score, high outlier score or model dispute), near-duplicates and the headings of one
capture point kept together."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.curation import STATUSES, CurationError

ORDERS = {
    "street": "Street score, lowest first",
    "outlier": "Outlier score, most unusual first",
    "dispute": "Model disputes the label, strongest first",
    "suspicion": "Combined (street + outlier + dispute ranks)",
    "file": "File order",
}
SHOW = ("unreviewed", "all", "accepted", "rejected")


def review_queue(table: pd.DataFrame, scores: pd.DataFrame | None, cls: str, *,
                 show: str = "all", order: str = "street", keep_groups: bool = True) -> pd.DataFrame:
    """The images of class ``cls`` in review order, worst first, with their scores and
    ``group_size`` (members of the same near-duplicate / same-place group in the class) and
    ``table_row`` (the image's position in ``table``).

    With ``keep_groups`` a group's members follow each other, placed where its worst
    member falls. Images without a score (new since the scoring) come first in score
    orders: nobody has looked at them yet."""
    if order not in ORDERS:
        raise CurationError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
    if show not in SHOW:
        raise CurationError(f"unknown filter {show!r}; choose one of {', '.join(SHOW)}")
    inside = (table["class"] == cls).to_numpy()
    rows = table[inside].copy()
    rows["table_row"] = np.flatnonzero(inside)  # its position in ``table`` (read values by position)
    rows["curated"] = rows["curated"].fillna("unreviewed")
    if scores is not None and len(scores):
        rows = rows.merge(scores, on="id", how="left")
    for col in ("street", "outlier", "dispute"):
        if col not in rows:
            rows[col] = np.nan
    for col in ("scene", "scene_top", "pred_class"):
        if col not in rows:
            rows[col] = pd.Series([pd.NA] * len(rows), dtype="string", index=rows.index)
    gid = rows["group_id"].astype("string").fillna(rows["id"].astype("string"))
    rows["group_size"] = gid.map(gid.value_counts()).astype(int)
    # the rank key: smaller = shown earlier
    if order == "file":
        key = rows["path"].rank(method="first")
    elif order == "street":
        key = rows["street"].fillna(-1.0)
    elif order == "outlier":
        key = -rows["outlier"].fillna(9.0)
    elif order == "dispute":
        key = -rows["dispute"].fillna(0.0)
    else:  # suspicion: mean percentile rank of the available signals
        parts = [rows["street"].rank(pct=True), (-rows["outlier"]).rank(pct=True)]
        if rows["dispute"].notna().any():
            parts.append((-rows["dispute"].fillna(0)).rank(pct=True))
        key = pd.concat(parts, axis=1).mean(axis=1).fillna(-1.0)
    rows["_key"] = key.to_numpy()
    rows["_tie"] = rows["path"].astype(str)
    rows = rows.sort_values(["_key", "_tie"], kind="stable").reset_index(drop=True)
    if keep_groups:
        gid = rows["group_id"].astype("string").fillna(rows["id"].astype("string"))
        first = pd.Series(np.arange(len(rows)), index=rows.index).groupby(gid.to_numpy()).transform("min")
        rows = rows.assign(_g=first.to_numpy(), _i=np.arange(len(rows))) \
            .sort_values(["_g", "_i"], kind="stable").drop(columns=["_g", "_i"])
    if show != "all":
        rows = rows[rows["curated"] == show]
    return rows.drop(columns=["_key", "_tie"]).reset_index(drop=True)


def class_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per class: images, unreviewed, accepted, rejected."""
    t = table.assign(curated=table["curated"].fillna("unreviewed"))
    counts = pd.crosstab(t["class"], t["curated"]).reindex(columns=list(STATUSES), fill_value=0)
    counts.insert(0, "images", counts.sum(axis=1))
    return counts
