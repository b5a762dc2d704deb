"""Near-duplicates across the split: a test (or validation) photo whose twin is in the
training set measures memory, not understanding. Perceptual hashes (the dataset's pHash,
imagehash) within a Hamming distance, as the importer uses to group duplicates — here
with a looser threshold, since what slipped past the importer is what matters."""

from __future__ import annotations

import pandas as pd

from analysis.data.dedupe import nearest_within

THRESHOLD = 10  # bits of 64: looser than the importer's grouping (6)


def cross_split_duplicates(rows: pd.DataFrame, threshold: int = THRESHOLD) -> pd.DataFrame:
    """Every val/test image whose nearest training image is within ``threshold`` bits.
    ``rows`` needs id, split, phash (and path, class for the report)."""
    train = rows[rows["split"] == "train"]
    held = rows[rows["split"].isin(["val", "test"])]
    out = []
    hits = nearest_within(held["phash"].tolist(), train["phash"].tolist(), threshold=threshold + 1)
    for (_, r), hit in zip(held.iterrows(), hits):
        if hit is None:
            continue
        t = train.iloc[hit[0]]
        out.append({"id": r["id"], "split": r["split"], "class": r["class"], "train_id": t["id"],
                    "train_class": t["class"], "distance": int(hit[1])})
    return pd.DataFrame(out, columns=["id", "split", "class", "train_id", "train_class", "distance"])
