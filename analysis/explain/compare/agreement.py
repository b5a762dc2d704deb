"""Who gets which image right: both, only A, only B, neither — with the images of each cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

CELLS = ("both right", "only A right", "only B right", "both wrong")


def agreement_cell(a_correct, b_correct) -> np.ndarray:
    """Each image's cell (one of :data:`CELLS`)."""
    a, b = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    return np.select([a & b, a & ~b, ~a & b], CELLS[:3], CELLS[3])


def agreement_table(ids, a_correct, b_correct) -> pd.DataFrame:
    """Per cell: its count, its share and the ids of its images (in the given order)."""
    cells = agreement_cell(a_correct, b_correct)
    ids = np.asarray(ids)
    n = max(len(ids), 1)
    return pd.DataFrame([{"cell": c, "images": int((cells == c).sum()), "share": float((cells == c).sum() / n),
                          "ids": ids[cells == c].tolist()} for c in CELLS])
