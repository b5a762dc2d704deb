"""Curation scores of a dataset: what the Curate page orders by — no network here.

Per image:

``street``   the scene classifier's total probability of the street-like scenes in
             ``STREET_CATEGORIES`` (street, alley, downtown, crosswalk,
             residential_neighborhood, …): food, fashion, interiors, paintings and
             landscapes that an image search returns for "tokyo street" score near 0.
``outlier``  cosine distance of the image's pooled scene features from its class centre.
             The centre is the mean of the class's *accepted* images once there are
             ``MIN_ACCEPTED`` of them, before that the street-score-weighted mean of its
             non-rejected images, so that a crawl where most images are junk still gets a
             centre that looks like a street.
``dispute``  how strongly a trained model disputes the label, ``p(predicted) - p(label)``
             when it predicts another class, else 0.

The model outputs the scores come from (probabilities and pooled features per image) are
kept beside the dataset keyed by image id (:class:`ScoreArrays`), so a change of the street
categories or of the curation (which moves the class centres) is applied without any
inference (:func:`rescore`). Computing those outputs needs a network: ``analysis.curate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.dataset import Dataset, DatasetError, conform
from analysis.store import atomic_path

#: Places365 scenes that count as "a street" (names as in ``places365_categories()``; a
#: name without ``/…`` also matches its ``/outdoor`` etc. variants). Streets of every
#: kind the study's ten cities have: city centres, shopping streets, suburbs, old towns.
STREET_CATEGORIES: tuple[str, ...] = (
    "street", "alley", "downtown", "crosswalk", "residential_neighborhood",
    "shopfront", "building_facade", "apartment_building", "office_building", "skyscraper",
    "plaza", "medina", "bazaar/outdoor", "market/outdoor", "slum", "village",
    "highway", "driveway", "parking_lot", "gas_station", "promenade", "canal/urban",
    "fire_escape", "house", "motel", "hotel/outdoor", "inn/outdoor", "general_store/outdoor",
    "diner/outdoor", "phone_booth", "industrial_area", "manufactured_home",
)
MIN_ACCEPTED = 5  # accepted images of a class from which on they alone define its centre

SCORE_COLUMNS: dict[str, str] = {
    "id": "string",
    "street": "float32",  # P(street-like scene), 0..1: low = probably not a street
    "outlier": "float32",  # cosine distance from the class centre, 0..2: high = unusual
    "scene": "string",  # the scene classifier's top category
    "scene_p": "float32",
    "scene_top": "string",  # top-3 categories with probabilities, for display
    "dispute": "float32",  # p(pred) - p(label) when a run predicts another class, else 0
    "pred_class": "string",  # that run's prediction
}


def street_indices(categories: Sequence[str], street: Sequence[str] = STREET_CATEGORIES) -> np.ndarray:
    """Indices of ``street`` names among ``categories``; ``house`` also matches
    ``house/outdoor``-style variants. Unknown names: one clear error."""
    idx, unknown = [], []
    for name in street:
        hits = [i for i, c in enumerate(categories) if c == name or c.startswith(name + "/")]
        (idx.extend(hits) if hits else unknown.append(name))
    if unknown:
        raise ValueError(f"street categories not among the scene classifier's "
                         f"{len(categories)} categories: {', '.join(unknown)}")
    return np.array(sorted(set(idx)), dtype=np.int64)


def street_score(probs: np.ndarray, categories: Sequence[str],
                 street: Sequence[str] = STREET_CATEGORIES) -> np.ndarray:
    """Total probability of the street-like categories, per image (0..1)."""
    probs = np.asarray(probs, dtype=np.float32)
    return probs[:, street_indices(categories, street)].sum(1).clip(0, 1)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def class_centres(features: np.ndarray, classes: Sequence[str], curated: Sequence[str],
                  street: np.ndarray | None = None,
                  min_accepted: int = MIN_ACCEPTED) -> dict[str, tuple[np.ndarray, str]]:
    """Per class: (unit centre, how it was made). Accepted images once there are
    ``min_accepted`` of them; else non-rejected images weighted by street score."""
    f = _unit(features)
    classes = np.asarray(classes, dtype=object)
    curated = np.asarray(pd.Series(curated, dtype="string").fillna("unreviewed"), dtype=object)
    out = {}
    for cls in pd.unique(classes):
        members = classes == cls
        accepted = members & (curated == "accepted")
        if accepted.sum() >= min_accepted:
            centre, basis = f[accepted].mean(0), f"{int(accepted.sum())} accepted"
        else:
            pool = members & (curated != "rejected")
            if not pool.any():
                pool = members
            w = np.ones(int(pool.sum()), dtype=np.float32)
            basis = f"{int(pool.sum())} images"
            if street is not None and np.nansum(street[pool]) > 1e-6:
                w = np.nan_to_num(np.asarray(street[pool], dtype=np.float32)) + 1e-3
                basis += ", weighted by street score"
            centre = (f[pool] * w[:, None]).sum(0) / w.sum()
        out[str(cls)] = (centre / max(float(np.linalg.norm(centre)), 1e-8), basis)
    return out


def outlier_scores(features: np.ndarray, classes: Sequence[str], curated: Sequence[str],
                   street: np.ndarray | None = None,
                   min_accepted: int = MIN_ACCEPTED) -> tuple[np.ndarray, dict[str, str]]:
    """Cosine distance (0..2) of each image from its class centre, and how each centre
    was made."""
    centres = class_centres(features, classes, curated, street, min_accepted)
    f = _unit(features)
    c = np.stack([centres[str(k)][0] for k in classes]) if len(f) else np.zeros_like(f)
    return (1.0 - (f * c).sum(1)).astype(np.float32), {k: v[1] for k, v in centres.items()}


def disputes_from_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """id, pred_class, dispute from a run's samples table (p_pred, p_true, class)."""
    other = samples["pred_class"].astype(str) != samples["class"].astype(str)
    dispute = np.where(other, samples["p_pred"] - samples["p_true"], 0.0).clip(0, 1)
    return pd.DataFrame({"id": samples["id"].astype("string"),
                         "pred_class": samples["pred_class"].astype("string"),
                         "dispute": dispute.astype(np.float32)})


def top_text(probs: np.ndarray, categories: Sequence[str], k: int = 3) -> list[str]:
    order = np.argsort(-probs, axis=1)[:, :k]
    return [", ".join(f"{categories[j]} {probs[i, j]:.2f}" for j in row) for i, row in enumerate(order)]


# ---------------------------------------------------------------------------- the cache
@dataclass
class ScoreArrays:
    """What the scene model said per image id (the expensive part, cached)."""

    model: str
    categories: list[str]
    ids: np.ndarray  # (n,) str
    probs: np.ndarray  # (n, categories) float16
    features: np.ndarray  # (n, d) float16

    @classmethod
    def empty(cls, model: str, categories: Sequence[str]) -> "ScoreArrays":
        return cls(model, list(categories), np.array([], dtype=str),
                   np.zeros((0, len(categories)), np.float16), np.zeros((0, 0), np.float16))

    @classmethod
    def load(cls, path: Path) -> "ScoreArrays | None":
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(str(z["model"]), [str(c) for c in z["categories"]], z["ids"].astype(str),
                           z["probs"], z["features"])
        except Exception:  # damaged or old file: recompute rather than fail
            return None

    def save(self, path: Path) -> None:
        self._flush()
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, model=np.array(self.model), categories=np.array(self.categories),
                         ids=self.ids.astype(str), probs=self.probs, features=self.features)

    def add(self, ids: Sequence[str], probs: np.ndarray, feats: np.ndarray) -> None:
        """Queue a batch (joined on the next save or read: no quadratic copying)."""
        self.__dict__.setdefault("_pending", []).append(
            (np.asarray(ids, dtype=str), probs.astype(np.float16), feats.astype(np.float16)))

    def _flush(self) -> None:
        pending = self.__dict__.pop("_pending", [])
        if not pending:
            return
        if not len(self.ids):
            self.features = np.zeros((0, pending[0][2].shape[1]), np.float16)
        self.ids = np.concatenate([self.ids] + [p[0] for p in pending])
        self.probs = np.concatenate([self.probs] + [p[1] for p in pending])
        self.features = np.concatenate([self.features] + [p[2] for p in pending])

    def keep(self, ids: Sequence[str]) -> None:
        self._flush()
        mask = np.isin(self.ids, np.asarray(list(ids), dtype=str))
        self.ids, self.probs, self.features = self.ids[mask], self.probs[mask], self.features[mask]

    def rows_for(self, ids: Sequence[str]) -> np.ndarray:
        self._flush()
        pos = {k: i for i, k in enumerate(self.ids)}
        return np.array([pos[k] for k in ids], dtype=np.int64)


def conform_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Score columns in schema order and dtype (missing float columns: NaN)."""
    df = df.copy()
    for col, dtype in SCORE_COLUMNS.items():
        if col not in df:
            df[col] = np.nan if dtype.startswith("float") else pd.Series(
                [pd.NA] * len(df), dtype=dtype, index=df.index)
    return conform(df, SCORE_COLUMNS)


def load_scores(ds: Dataset) -> pd.DataFrame | None:
    """The cached scores (one row per image id), or None when never computed. ``attrs``
    holds the model, street categories and centre bases they were made with."""
    path = ds.files.scores
    if not path.is_file():
        return None
    try:
        df = pd.read_parquet(path)
    except Exception:
        return None
    attrs = dict(df.attrs)
    df = conform_scores(df)
    df.attrs = attrs
    return df


def missing_ids(ds: Dataset, table: pd.DataFrame | None = None) -> list[str]:
    """Images of the dataset without scores (new since the last scoring)."""
    table = ds.read() if table is None else table
    scores = load_scores(ds)
    have = set() if scores is None else set(scores["id"].astype(str))
    return [i for i in table["id"].astype(str) if i not in have]


def write_score_table(ds: Dataset, table: pd.DataFrame, arrays: ScoreArrays,
                      street_categories: Sequence[str] = STREET_CATEGORIES,
                      disputes: pd.DataFrame | None = None) -> dict[str, str]:
    """Derive the per-image scores from the cached model outputs (no inference) and
    write the score table. Disputes of an earlier ``--run`` are kept unless new ones
    are given. Returns how each class centre was made."""
    arrays._flush()
    rows = table[table["id"].astype(str).isin(set(arrays.ids))].reset_index(drop=True)
    ids = rows["id"].astype(str).tolist()
    sel = arrays.rows_for(ids)
    probs = arrays.probs[sel].astype(np.float32)
    feats = arrays.features[sel].astype(np.float32) if len(sel) else np.zeros((0, 1), np.float32)
    street = street_score(probs, arrays.categories, street_categories) if len(sel) else np.zeros(0)
    outlier, centres = outlier_scores(feats, rows["class"].astype(str).tolist(),
                                      rows["curated"].tolist(), street) if len(sel) else (np.zeros(0), {})
    top = np.argmax(probs, 1) if len(sel) else np.zeros(0, int)
    df = pd.DataFrame({
        "id": ids, "street": street, "outlier": outlier,
        "scene": [arrays.categories[j] for j in top],
        "scene_p": probs[np.arange(len(top)), top] if len(sel) else np.zeros(0),
        "scene_top": top_text(probs, arrays.categories) if len(sel) else [],
    })
    if disputes is None:
        old = load_scores(ds)
        if old is not None and old["dispute"].notna().any():
            disputes = old[["id", "pred_class", "dispute"]]
            run_name = old.attrs.get("dispute_run", "")
        else:
            run_name = ""
    else:
        run_name = disputes.attrs.get("run", "")
    if disputes is not None:
        df = df.merge(disputes[["id", "pred_class", "dispute"]].astype({"id": str}), on="id", how="left")
    df = conform_scores(df)
    df.attrs = {"model": arrays.model, "street_categories": list(street_categories),
                "centres": centres, "dispute_run": run_name,
                "computed": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with atomic_path(ds.files.scores) as tmp:
        df.to_parquet(tmp, index=False)
    return centres


def rescore(ds: Dataset, street_categories: Sequence[str] | None = None) -> dict[str, str] | None:
    """Re-derive the score table from the cached model outputs (after curation moved the
    class centres, or with other street categories): no inference, milliseconds."""
    arrays = ScoreArrays.load(ds.files.score_arrays)
    if arrays is None:
        return None
    old = load_scores(ds)
    cats = street_categories or (old.attrs.get("street_categories") if old is not None else None)
    return write_score_table(ds, ds.read(), arrays, tuple(cats or STREET_CATEGORIES))


def require_scores(ds: Dataset) -> pd.DataFrame:
    scores = load_scores(ds)
    if scores is None:
        raise DatasetError(f"dataset {ds.name} has no scores yet: run "
                           f"`streetlens data scores --dataset {ds.root}` first")
    return scores
