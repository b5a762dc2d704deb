"""Train/val/test split: stratified by class, seeded, and group-safe.

Images that share a ``group_id`` (a near-duplicate cluster, or the four headings of one
Street View capture point) always land in the same split; otherwise a model is tested on
pictures it has, in effect, already seen.

Allocation is greedy by deficit: groups are visited in a seeded order and each goes to
the split of its class that is furthest below its target fraction. Existing assignments
are kept by default, so adding images later never moves images a model was tested on.
:func:`resplit` (``streetlens data split``) re-splits a whole dataset in place.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import dedupe
from analysis.data.dataset import SPLITS, Dataset

GROUP_THRESHOLD = 10  # pHash distance under which distinct images still share a split

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


def parse_fractions(text: str) -> tuple[float, float, float]:
    """'0.7,0.15,0.15' → fractions of train/val/test (must sum to 1)."""
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError as exc:
        raise ValueError(f"fractions must be numbers like 0.7,0.15,0.15, got {text!r}") from exc
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {text!r}")
    return parts  # type: ignore[return-value]


def group_from_name(stem: str, pattern: str | None) -> str | None:
    """The capture-point id in a file name: the regex's ``group`` named group (or whole
    match), e.g. ``(?P<group>.+)_heading_\\d+`` for Street View headings."""
    if not pattern:
        return None
    m = re.search(pattern, stem)
    if not m:
        return None
    return m.group("group") if "group" in m.re.groupindex else m.group(0)


def assign_splits(
    df: pd.DataFrame,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    keep_existing: bool = True,
) -> pd.Series:
    """A split per row of ``df`` (needs columns class, group_id, split)."""
    target = np.asarray(fractions, dtype=float)
    split = df["split"].astype("object") if keep_existing else pd.Series(None, index=df.index, dtype="object")
    split = split.where(split.isin(SPLITS), None)
    group_id = df["group_id"].fillna(df["id"]).astype(str)

    # a group already (partly) placed pulls its new members into the same split
    placed = {g: s for g, s in zip(group_id, split) if s is not None}
    split = pd.Series([s if s is not None else placed.get(g) for g, s in zip(group_id, split)],
                      index=df.index, dtype="object")

    rng = np.random.default_rng(seed)
    values = split.to_numpy(dtype=object, copy=True)
    unplaced = pd.isna(values)
    members = pd.Series(np.arange(len(df)))[unplaced].groupby(group_id.to_numpy()[unplaced]).indices
    positions = np.flatnonzero(unplaced)
    classes = df["class"].astype(str).to_numpy()
    # a group's class is its majority class, so a group is never split by class either
    majority = {g: pd.Series(classes[idx]).value_counts().index[0] for g, idx in members.items()}
    overall_counts = np.array([(values == s).sum() for s in SPLITS], dtype=float)
    for cls in sorted(set(classes)):
        counts = np.array([(values[classes == cls] == s).sum() for s in SPLITS], dtype=float)
        todo = sorted(g for g, c in majority.items() if c == cls)
        if not todo:
            continue
        total = counts.sum() + sum(len(members[g]) for g in todo)
        for i in rng.permutation(len(todo)):
            idx = positions[members[todo[i]]]
            deficit = target * total - counts
            # ties (common in small classes) go to the split furthest below its target
            # over the whole dataset, so val and test both get images, not val always
            ties = np.flatnonzero(np.isclose(deficit, deficit.max()))
            overall = (target * len(df) - overall_counts)[ties]
            k = int(ties[np.argmax(overall)])
            values[idx] = SPLITS[k]
            counts[k] += len(idx)
            overall_counts[k] += len(idx)
    return pd.Series(values, index=df.index, dtype="string")


def split_groups(table: pd.DataFrame, group_threshold: int = GROUP_THRESHOLD,
                 group_pattern: str | None = None) -> pd.Series:
    """Group ids for the split: pHash clusters (distance < ``group_threshold``) joined with
    capture points parsed from the source file names by ``group_pattern``."""
    n = len(table)
    label = dedupe.clusters(list(table["phash"].fillna("0")), group_threshold)
    if group_pattern:
        by_name: dict[str, int] = {}
        for i, src in enumerate(table["source"].fillna("")):
            key = group_from_name(Path(src).stem, group_pattern)
            if key is None:
                continue
            key = f"{table['class'].iat[i]}/{key}"
            if key in by_name:  # merge the two clusters
                a, b = label[by_name[key]], label[i]
                label[label == max(a, b)] = min(a, b)
            else:
                by_name[key] = i
    ids = table["id"].to_numpy()
    return pd.Series([ids[j] for j in label], index=table.index, dtype="string") if n else \
        pd.Series([], dtype="string")


def resplit(
    ds: Dataset,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    group_pattern: str | None = None,
) -> pd.DataFrame:
    """Re-split the whole of ``ds`` (groups recomputed, existing splits dropped) and
    write it; returns the new table. Read, split and write happen under the table lock,
    so a curation decision made meanwhile waits for it instead of being overwritten."""
    with ds.locked():
        df = ds.read()
        df["group_id"] = split_groups(df, group_pattern=group_pattern)
        df["split"] = assign_splits(df, fractions, seed, keep_existing=False)
        ds.write(df)
    return df
