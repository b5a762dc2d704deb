"""Concepts in words a user can read: each named after the class it helps most."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def importance_matrix(importance: pd.DataFrame, head: str = "city",
                      targets: Sequence[str] | None = None) -> pd.DataFrame:
    """The concept importance table as concepts × targets for one head."""
    sub = importance[importance["head"] == head]
    m = sub.pivot_table(index="concept", columns="target", values="importance", aggfunc="first")
    if targets is not None:
        m = m.reindex(columns=[t for t in targets if t in m.columns])
    return m.sort_index()


def concept_names(importance: pd.DataFrame, head: str = "city") -> dict[int, str]:
    """A readable name per concept: "concept 3 · tokyo" after the class it helps most
    (or "concept 3" when it helps none)."""
    m = importance_matrix(importance, head)
    out = {}
    for k, row in m.iterrows():
        best = row.idxmax() if row.notna().any() else None
        out[int(k)] = f"concept {int(k)} · {best}" if best is not None and row[best] > 0 \
            else f"concept {int(k)}"
    return out
