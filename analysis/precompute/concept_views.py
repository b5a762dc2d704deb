"""Concepts as the CLI and the dashboard show them, read from a run's cache: the name
each concept goes by, the list of concepts, a city's portrait, and naming a concept.

One place for these, so a page, ``streetlens concepts list`` and an export always say
the same name and the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.explain.concepts.portrait import ConceptName, Portrait, build_portrait, resolve_names
from analysis.store import CacheError, RunCache

PORTRAIT_SPLIT = "test"
NEEDED = ("concept_effects", "concept_stability", "concept_prevalence")


def n_concepts(cache: RunCache) -> int:
    components, _ = cache.read_concept_basis()
    return int(components.shape[0])


def concept_names(cache: RunCache, given: dict | None = None) -> dict[int, ConceptName]:
    """The name every concept goes by (the user's, else the automatic candidate).
    ``given``: the users' names when the caller already read them (a page that could not
    read a broken names file passes ``{}`` after saying so); else read from the cache."""
    candidates = cache.table("concept_name_candidates") if cache.has("concept_name_candidates") else None
    return resolve_names(candidates, cache.names().names() if given is None else given, n_concepts(cache))


def missing(cache: RunCache) -> list[str]:
    """Artefacts a portrait needs that the cache lacks (empty when it can be drawn)."""
    return [a for a in NEEDED if not cache.has(a)]


def effects(cache: RunCache, split: str = PORTRAIT_SPLIT) -> pd.DataFrame:
    table = cache.table("concept_effects")
    return table[table["split"] == split]


def portrait(cache: RunCache, city: str, given: dict | None = None) -> Portrait:
    """``city``'s portrait (CacheError naming the stage to run when something is missing)."""
    gone = missing(cache)
    if gone:
        raise CacheError(f"{cache.root} has no {', '.join(gone)}: run `streetlens analyze {cache.name}`")
    comp = cache.table("concept_completeness") if cache.has("concept_completeness") else None
    curves = cache.table("concept_curves") if cache.has("concept_curves") else None
    return build_portrait(city, effects(cache), cache.table("concept_stability"),
                          cache.table("concept_prevalence"), concept_names(cache, given), comp, curves)


def concept_table(cache: RunCache, classes: Sequence[str]) -> pd.DataFrame:
    """One row per concept: its name, whether automatic, its stability, and the cities it
    raises most (mean effect over each city's test images)."""
    names = concept_names(cache)
    stab = cache.table("concept_stability").set_index("concept") if cache.has("concept_stability") else None
    eff = effects(cache) if cache.has("concept_effects") else None
    rows = []
    for k, name in names.items():
        row = {"concept": k, "name": name.label, "automatic": name.automatic, "source": name.source}
        if stab is not None and k in stab.index:
            row["came_back"] = f"{int(stab.loc[k, 'came_back'])} of {int(stab.loc[k, 'refits'])}"
            row["stable"] = bool(stab.loc[k, "stable"])
        if eff is not None:
            e = eff[eff["concept"] == k].sort_values("effect", ascending=False)
            row["raises"] = ", ".join(f"{r.target} {r.effect:+.2f}" for r in e.head(3).itertuples() if r.effect > 0)
        rows.append(row)
    return pd.DataFrame(rows)


def name_concept(cache: RunCache, concept: int, name: str | None, by: str = "user") -> str | None:
    """Give ``concept`` a name (kept with its direction, so it survives a refit), or clear
    it with ``name=None``; returns the name as kept."""
    components, _ = cache.read_concept_basis()
    if not 0 <= int(concept) < len(components):
        raise ValueError(f"no concept {concept}: {cache.name} has concepts 0 to {len(components) - 1}")
    book = cache.names()
    if name is None:
        book.clear(int(concept), by=by)
        return None
    return book.set(int(concept), name, direction=np.asarray(components[int(concept)]), by=by)


# ------------------------------------------------------------ why this city and not that one
# (imports inside the functions below: this part was appended to a module others edit)
CONTRAST_NEEDED = ("concept_removal_logits",)
CONCEPT_COLUMNS = ["concept", "name", "automatic", "stable"]


def concept_labels(cache: RunCache, given: dict | None = None) -> pd.DataFrame:
    """One row per concept: the name it goes by, whether automatic, and whether stable
    (``None`` when the stability was not measured). ``given``: as in :func:`concept_names`."""
    stab = cache.table("concept_stability").set_index("concept")["stable"] \
        if cache.has("concept_stability") else pd.Series(dtype=bool)
    rows = [{"concept": k, "name": n.label, "automatic": bool(n.automatic),
             "stable": bool(stab.loc[k]) if k in stab.index else None}
            for k, n in concept_names(cache, given).items()]
    return pd.DataFrame(rows, columns=CONCEPT_COLUMNS)


def _contrast_rows(cache: RunCache, classes: Sequence[str], samples: pd.DataFrame | None
                   ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """(samples, their removal Δlogits (n, K, C), true and predicted class indices)."""
    gone = [a for a in CONTRAST_NEEDED if not cache.has(a)]
    if gone:
        raise CacheError(f"{cache.root} has no {', '.join(gone)}: run `streetlens analyze {cache.name}`")
    if samples is None:
        samples = cache.samples()
        own = samples["split"].to_numpy() == PORTRAIT_SPLIT
        samples = samples[own] if own.any() else samples
    index = {c: i for i, c in enumerate(classes)}
    y_true = samples["class"].map(index).to_numpy(dtype=np.int64)
    y_pred = samples["pred_class"].map(index).to_numpy(dtype=np.int64)
    dlogits = cache.array("concept_removal_logits")[samples["row"].to_numpy(dtype=np.int64)]  # those rows only
    return samples, dlogits, y_true, y_pred


def _ranked(values: np.ndarray, top: int | None) -> list[int]:
    """Concept indices by decreasing |value| (ties: lower index first), the first ``top``."""
    order = np.argsort(-np.abs(np.asarray(values, dtype=np.float64)), kind="stable")
    return [int(k) for k in (order if top is None else order[:top])]


EXPLANATION_COLUMNS = ["row", "id", "true", "predicted", "p_pred", "p_true", "rank", "concept",
                       *CONCEPT_COLUMNS[1:], "contribution"]


def error_explanations(cache: RunCache, classes: Sequence[str], samples: pd.DataFrame | None = None,
                       top: int | None = 3, given: dict | None = None) -> pd.DataFrame:
    """Why the model chose the wrong city, per misclassified image of ``samples`` (rows of
    the samples table; default: the test split): its ``top`` concepts (all with ``None``)
    by the size of their contribution to logit(predicted) − logit(true), i.e. what
    removing the concept takes away from that difference (``contrast.error_contributions``).
    Positive: the concept pushed the image towards the predicted city.

    Long form, images in ``samples`` order, concepts strongest first: row, id, true,
    predicted, p_pred, p_true, rank, concept, name, automatic, stable, contribution.
    """
    from analysis.explain.concepts.contrast import ranked_contributions

    if samples is not None:  # only the misclassified rows are read
        samples = samples[samples["class"].astype(str).to_numpy() != samples["pred_class"].astype(str).to_numpy()]
        if samples.empty:
            return pd.DataFrame(columns=EXPLANATION_COLUMNS)
    samples, d, y_true, y_pred = _contrast_rows(cache, classes, samples)
    wrong = np.flatnonzero(y_true != y_pred)
    order, contrib = ranked_contributions(d[wrong], y_pred[wrong], y_true[wrong], top)
    n, r = order.shape
    return _explanation_frame(samples.iloc[wrong], np.repeat(np.arange(n), r), np.tile(np.arange(r), n),
                              order.ravel(), contrib.ravel(), concept_labels(cache, given))


def stored_explanations(cache: RunCache, split: str, picked: pd.DataFrame, given: dict | None = None
                        ) -> pd.DataFrame | None:
    """``error_explanations(cache, classes, picked, top=None)`` for the mistakes of a whole
    split that the Errors page explains (``picked``: their samples rows), as the
    ``concept_effects`` stage stored their contributions (no per-image array read); None
    when the cache has no such table or it does not hold exactly those images."""
    if not cache.has("concept_why"):
        return None
    table = cache.table("concept_why")
    table = table[table["split"].astype(str) == split]
    rows = picked["row"].to_numpy(np.int64)
    if not np.array_equal(np.unique(table["row"].to_numpy(np.int64)), np.unique(rows)):
        return None  # another selection of images than the stage's (an older analysis)
    position = pd.Series(np.arange(len(rows)), index=rows)
    table = table.assign(_pos=position.reindex(table["row"].to_numpy(np.int64)).to_numpy())
    table = table.sort_values(["_pos", "rank"], kind="stable")
    return _explanation_frame(picked, table["_pos"].to_numpy(np.int64), table["rank"].to_numpy(np.int64),
                              table["concept"].to_numpy(np.int64), table["contribution"].to_numpy(float),
                              concept_labels(cache, given))


def _explanation_frame(images: pd.DataFrame, at: np.ndarray, rank: np.ndarray, concept: np.ndarray,
                       contribution: np.ndarray, labels: pd.DataFrame) -> pd.DataFrame:
    """The long form of :func:`error_explanations`: one row per (image ``images.iloc[at]``,
    its ``rank``-th concept ``concept`` with its ``contribution``), the concept's name joined."""
    def col(name):
        return images[name].to_numpy()[at] if name in images else np.full(len(at), np.nan)

    lab = labels.set_index("concept").reindex(concept)
    out = pd.DataFrame({"row": col("row").astype(np.int64), "id": col("id").astype(str), "true": col("class").astype(str),
                        "predicted": col("pred_class").astype(str), "p_pred": col("p_pred").astype(float),
                        "p_true": col("p_true").astype(float), "rank": np.asarray(rank, np.int64),
                        "concept": np.asarray(concept, np.int64), "name": lab["name"].to_numpy(),
                        "automatic": lab["automatic"].to_numpy(bool), "stable": lab["stable"].to_numpy(),
                        "contribution": np.asarray(contribution, float)})
    return out[EXPLANATION_COLUMNS]


def pair_view(cache: RunCache, classes: Sequence[str], samples: pd.DataFrame | None = None,
              top: int | None = 3, given: dict | None = None) -> pd.DataFrame:
    """The confused pairs of ``samples`` (default: the test split), most images first, each
    with its ``top`` separating concepts (all with ``None``). ``contribution``: a concept's
    mean contribution to logit(predicted) − logit(true) over the pair's images; ``usual``:
    the same over the true city's correctly classified images; ``separation``: the
    difference — what is unusual about the mistakes (``contrast.pair_table``). Concepts are
    ranked by the size of their separation (of their contribution when the true city has
    no correctly classified image to compare with).

    Long form: true, predicted, images, rank, concept, name, automatic, stable,
    contribution, usual, separation.
    """
    from analysis.explain.concepts.contrast import pair_table

    samples, d, y_true, y_pred = _contrast_rows(cache, classes, samples)
    return _pair_rows(pair_table(d, y_true, y_pred, classes), concept_labels(cache, given), top)


def stored_pair_view(cache: RunCache, split: str, top: int | None = 3, given: dict | None = None
                     ) -> pd.DataFrame | None:
    """``pair_view`` of a whole split ("held-out", "val", "test", "train", "all") as the
    ``concept_effects`` stage stored it (no per-image array read), or None when the cache
    has no such table."""
    if not cache.has("concept_contrast"):
        return None
    table = cache.table("concept_contrast")
    if "split" not in table or split not in set(table["split"].astype(str)):
        return None
    table = table[table["split"].astype(str) == split].drop(columns="split")
    return _pair_rows(table, concept_labels(cache, given), top)  # in pair_table's order


def _pair_rows(table: pd.DataFrame, labels: pd.DataFrame, top: int | None) -> pd.DataFrame:
    labels = labels.set_index("concept")
    rows = []
    for (true, pred), g in table.groupby(["true", "predicted"], sort=False):
        g = g.set_index("concept")
        g = g.sort_index()
        key = g["separation"].to_numpy(dtype=np.float64)
        if not np.isfinite(key).all():
            key = g["towards_predicted"].to_numpy(dtype=np.float64)
        for rank, k in enumerate(_ranked(key, top)):
            lab = labels.loc[k]
            rows.append({"true": true, "predicted": pred, "images": int(g["images"].iat[0]), "rank": rank,
                         "concept": k, "name": lab["name"], "automatic": bool(lab["automatic"]),
                         "stable": lab["stable"], "contribution": float(g.loc[k, "towards_predicted"]),
                         "usual": float(g.loc[k, "usual"]), "separation": float(g.loc[k, "separation"])})
    return pd.DataFrame(rows, columns=["true", "predicted", "images", "rank", "concept", *CONCEPT_COLUMNS[1:],
                                       "contribution", "usual", "separation"])


def deletion_summary(curves: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """Per city, from the ``concept_curves`` table: the concept deletion AUC in the order
    of effect and in random order, their ratio (ranked ÷ random: below 1, the ranked
    concepts matter more), the city's probability with every concept in place, and the
    drop after removing the first ``top`` concepts of each order and the ratio of those
    drops (ranked ÷ random: above 1, the ranked concepts matter more)."""
    from analysis.explain.concepts.effect import area

    cols = ["target", "images", "p_start", "auc_ranked", "auc_random", "auc_ratio", "drop_ranked",
            "drop_random", "drop_ratio"]
    d = curves[curves["curve"] == "deletion"] if len(curves) else curves
    if d is None or d.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for target, g in d.groupby("target", sort=False):
        out = {"target": target, "images": int(g["images"].max())}
        for order in ("ranked", "random"):
            s = g[g["order"] == order].sort_values("step")
            p = s["p"].to_numpy(dtype=np.float64)
            out["p_start"] = float(p[0]) if len(p) else np.nan
            out[f"auc_{order}"] = area(p) if len(p) else np.nan
            out[f"drop_{order}"] = float(p[0] - p[min(top, len(p) - 1)]) if len(p) else np.nan
        out["auc_ratio"] = out["auc_ranked"] / out["auc_random"] if out["auc_random"] > 0 else np.nan
        out["drop_ratio"] = out["drop_ranked"] / out["drop_random"] if out["drop_random"] > 0 else np.nan
        rows.append(out)
    return pd.DataFrame(rows, columns=cols)
