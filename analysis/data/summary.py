"""``streetlens data summary``: what is in a dataset, at a glance.

Counts per class × split (with the group), curation state, and what the imports
skipped. Pure functions on the table so the dashboard's Overview shows the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.data.dataset import SPLITS, Dataset, fingerprint


@dataclass
class Summary:
    name: str
    counts: pd.DataFrame  # index class (+group), columns splits + total
    n_images: int
    n_rejected: int
    n_duplicates: int
    curated: dict[str, int]
    fingerprint: str

    def text(self) -> str:
        lines = [f"dataset {self.name}: {self.n_images} images, {len(self.counts) - 1} classes, "
                 f"fingerprint {self.fingerprint}"]
        lines.append(self.counts.to_string())
        lines.append(f"near-duplicates skipped: {self.n_duplicates}   rejected files: {self.n_rejected}")
        lines.append("curation: " + ", ".join(f"{k} {v}" for k, v in sorted(self.curated.items())))
        return "\n".join(lines)


def count_table(df: pd.DataFrame) -> pd.DataFrame:
    """Images per class and split, with group and total columns and a total row."""
    counts = pd.crosstab(df["class"], df["split"]).reindex(columns=list(SPLITS), fill_value=0)
    counts["total"] = counts.sum(axis=1)
    groups = df.groupby("class")["group"].first()
    counts.insert(0, "group", groups.reindex(counts.index))
    total = counts[list(SPLITS) + ["total"]].sum()
    counts.loc["all"] = ["", *total.tolist()]
    counts.index.name = "class"
    return counts


def summarize(dataset: Dataset) -> Summary:
    df = dataset.read()
    rejects = dataset.read_rejects()
    return Summary(
        name=dataset.name,
        counts=count_table(df),
        n_images=len(df),
        n_rejected=int((rejects["kind"] == "rejected").sum()),
        n_duplicates=int((rejects["kind"] == "duplicate").sum()),
        curated=df["curated"].fillna("unreviewed").value_counts().to_dict(),
        fingerprint=fingerprint(df),
    )
