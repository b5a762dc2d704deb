"""``concept_effects``: what each concept *does* — remove it at the target layer and
measure every class's probability for every image (head only, on stored activations),
summarised per class with bootstrap intervals; concept deletion/insertion curves;
completeness; the concepts behind each confused pair of cities and behind each of the
mistakes the Errors page explains, for every split it offers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain import mistakes
from analysis.explain.concepts.contrast import pair_table, ranked_contributions
from analysis.explain.concepts.effect import (class_effects, completeness, concept_curves, concept_means,
                                              curve_areas, removal_effects)
from analysis.precompute.stage import Stage
from analysis.precompute.stages.concepts import load_basis

SUMMARY_SPLITS = ("val", "test")  # rank on val, report on test (no selection bias in the curves)
CONTRAST_SPLITS = ("held-out", "val", "test", "train", "all")  # the Errors page's choices of split


def rows_of(samples: pd.DataFrame, split: str) -> np.ndarray:
    """Rows of ``split``; every row when the dataset has no such split."""
    own = samples["split"].to_numpy() == split
    return own if own.any() else np.ones(len(samples), bool)


def split_mask(splits: np.ndarray, split: str) -> np.ndarray:
    """The images of ``split`` as the Errors page means it: "all", "held-out" (val and
    test), or one split's name."""
    if split == "all":
        return np.ones(len(splits), bool)
    return np.isin(splits, ["val", "test"]) if split == "held-out" else splits == split


def contrast_table(logits: np.ndarray, y: np.ndarray, pred: np.ndarray, splits: np.ndarray,
                   classes) -> pd.DataFrame:
    """``pair_table`` of every split the Errors page offers (those with images), long form
    with a ``split`` column: the page's confused pairs without reading a per-image array."""
    tables = [pair_table(logits[m], y[m], pred[m], classes).assign(split=s)
              for s in CONTRAST_SPLITS if (m := split_mask(splits, s)).any()]
    return pd.concat(tables, ignore_index=True) if tables else pair_table(logits[:0], y[:0], pred[:0], classes)


def why_table(logits: np.ndarray, samples: pd.DataFrame, classes) -> pd.DataFrame:
    """Every concept's contribution to logit(predicted) − logit(true) for the mistakes the
    Errors page explains (``mistakes.most_confident_per_cell``) of every split it offers:
    long form (split, row, rank, concept, contribution), each image's concepts by the size
    of their contribution. ``logits``: the stored (float32) removal Δlogits, so the numbers
    are those the page would compute from them. Names are not stored: users rename concepts."""
    index = {c: i for i, c in enumerate(classes)}
    splits = samples["split"].astype(str).to_numpy()
    parts = []
    for split in CONTRAST_SPLITS:
        mask = split_mask(splits, split)
        if not mask.any():
            continue
        picked = mistakes.most_confident_per_cell(samples[mask])
        rows = picked["row"].to_numpy(np.int64)
        true = picked["class"].astype(str).map(index).to_numpy(np.int64)
        pred = picked["pred_class"].astype(str).map(index).to_numpy(np.int64)
        order, contrib = ranked_contributions(logits[rows], pred, true)
        n, k = order.shape
        parts.append(pd.DataFrame({"split": split, "row": np.repeat(rows, k), "rank": np.tile(np.arange(k), n),
                                   "concept": order.ravel().astype(np.int64), "contribution": contrib.ravel()}))
    cols = ["split", "row", "rank", "concept", "contribution"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def run(ctx) -> dict:
    basis = load_basis(ctx.cache)
    samples = ctx.cache.samples()
    classes = list(ctx.run.labels.classes)
    y = samples["y_class"].to_numpy()
    pred = samples["pred_class"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    means = concept_means(ctx.cache.concept_maps())
    features = np.asarray(ctx.cache.features(), dtype=np.float64)
    eff = removal_effects(ctx.model, features, means, basis.components, "city")
    ctx.cache.write_array("concept_removal_logits", eff.logits.astype(np.float32))
    ctx.cache.write_array("concept_removal_probs", eff.probs.astype(np.float32))

    n_boot, seed = ctx.param("effect_bootstrap"), ctx.param("seed")
    tables = []
    for split in SUMMARY_SPLITS:
        own = rows_of(samples, split)
        tables.append(class_effects(eff.probs[own], y[own], classes, n_boot, seed).assign(split=split))
    effects = pd.concat(tables, ignore_index=True)
    ctx.cache.write_table("concept_effects", effects)

    ranked = effects[effects["split"] == "val"]
    orders = {ti: ranked[ranked["target"] == c].sort_values("effect", ascending=False)["concept"].tolist()
              for ti, c in enumerate(classes)}
    test = rows_of(samples, "test")
    curves = concept_curves(ctx.model, features[test], means[test], basis.components, y[test], orders,
                            classes, "city", ctx.param("effect_random_orders"), seed)
    ctx.cache.write_table("concept_curves", curves)
    ctx.cache.write_table("concept_completeness",
                          completeness(ctx.model, features[test], means[test], basis.components, y[test], classes))
    ctx.cache.write_table("concept_contrast", contrast_table(eff.logits, y, pred, samples["split"].astype(str).to_numpy(),
                                                             classes))
    ctx.cache.write_table("concept_why", why_table(eff.logits.astype(np.float32), samples, classes))
    aucs = curve_areas(curves)
    mean_auc = aucs.groupby(["curve", "order"])["auc"].mean().round(4)
    return {"concepts": basis.n_concepts, "deletion_auc": {o: float(mean_auc.get(("deletion", o), np.nan))
                                                           for o in ("ranked", "random")}}


STAGE = Stage(
    name="concept_effects", order=32, run=run, version=3,
    params=("effect_bootstrap", "effect_random_orders", "seed"),
    defaults={"effect_bootstrap": 1000, "effect_random_orders": 5},
    doc="each concept's causal effect on every city (removal at the target layer), concept "
        "deletion/insertion curves, completeness, and the concepts behind confused pairs",
    reads=("features", "concept_maps", "concept_basis", "samples"),
    writes=("concept_removal_logits", "concept_removal_probs", "concept_effects", "concept_curves",
            "concept_completeness", "concept_contrast", "concept_why"),
    new_artefacts=(
        ("concept_removal_logits", "array", "(N, concepts, cities) logit change when a concept is removed"),
        ("concept_removal_probs", "array", "(N, concepts, cities) probability change when it is removed"),
        ("concept_effects", "table", "mean effect of each concept on each city, 95 % bootstrap interval"),
        ("concept_curves", "table", "concept deletion/insertion curves per city, ranked vs random order"),
        ("concept_completeness", "table", "accuracy on the concept reconstruction vs the original"),
        ("concept_contrast", "table", "concept contributions to logit(predicted) − logit(true) per confused pair, "
                                      "per split (held-out, val, test, train, all)"),
        ("concept_why", "table", "per split, every concept's contribution to logit(predicted) − logit(true) "
                                 "for each confusion cell's most confident mistakes (the Errors page's why lines)"),
    ),
)
