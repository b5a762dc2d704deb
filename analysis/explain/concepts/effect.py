"""The causal effect of concepts: remove one at the target layer, run only the head.

Why this is cheap and exact: a concept k is the part U_k·W_k of the activation A ≈ U·W.
Removing it means A − U_k·W_k (the residual A − U·W stays, so nothing else changes).
Every head here starts with global average pooling, which is linear, so the head sees
``pooled(A) − mean(U_k)·W_k``: removal is a subtraction on the (N, C) pooled features and
one pass of the small head — no trunk, no image. The same holds for keeping only some
concepts (insertion: ``Σ_{j kept} mean(U_j)·W_j``) and for the full reconstruction
(completeness: ``mean(U)·W``). :func:`head_outputs` runs ``model.head`` itself on 1×1
maps, so the code path is the model's, and tests check it against the full 4-D removal.

Effects are differences of probabilities (or logits): ``effect[n, k, t] = p_t(A_n) −
p_t(A_n without concept k)`` — positive when the concept supports target t.

Only :func:`head_outputs` runs the model, so only it imports PyTorch: the Reliability page
reads the stored curves through :func:`area` and must not pay torch's import (3–7 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

HEADS = ("city", "group")


def concept_means(maps, batch: int = 256) -> np.ndarray:
    """Mean of each concept map over the positions, (N, K) float64: the pooled concept
    coefficients (read in chunks, so a float16 memmap is never loaded whole)."""
    n = len(maps)
    out = np.empty((n, maps.shape[1]), dtype=np.float64)
    for a in range(0, n, batch):
        out[a:a + batch] = np.asarray(maps[a:a + batch], dtype=np.float64).mean((2, 3))
    return out


def head_outputs(model: torch.nn.Module, pooled: np.ndarray, head: str = "city",
                 batch: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """(logits, probabilities) of ``head`` for pooled feature vectors (M, C), float64.

    The vectors go through ``model.head`` as (M, C, 1, 1) maps: pooling a 1×1 map is the
    identity, so this is exactly the model's head on any map whose mean is the vector.
    """
    import torch

    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    pooled = np.asarray(pooled)
    logits = []
    was = model.training
    model.eval()
    try:
        param = next(model.parameters())
        with torch.inference_mode():
            for a in range(0, len(pooled), batch):
                x = torch.as_tensor(pooled[a:a + batch]).to(param.device, param.dtype)[:, :, None, None]
                out = model.head(x)[HEADS.index(head)]
                logits.append(out.double().cpu().numpy())
    finally:
        model.train(was)
    z = np.concatenate(logits) if logits else np.zeros((0, 0))
    return z, _softmax(z)


def _softmax(z: np.ndarray) -> np.ndarray:
    if z.size == 0:
        return z
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@dataclass
class RemovalEffects:
    """Per image, per concept, per target: what removing the concept changes."""

    logits: np.ndarray  # (N, K, T) logit(original) − logit(concept removed)
    probs: np.ndarray  # (N, K, T) p(original) − p(concept removed)
    base_logits: np.ndarray  # (N, T)
    base_probs: np.ndarray  # (N, T)


def removal_effects(model: torch.nn.Module, features: np.ndarray, means: np.ndarray,
                    components: np.ndarray, head: str = "city", chunk: int = 512) -> RemovalEffects:
    """The effect of removing each concept from each image (see the module docstring).

    ``features`` (N, C) pooled activations; ``means`` (N, K) pooled concept coefficients
    (:func:`concept_means`); ``components`` (K, C) the concept directions.
    """
    features = np.asarray(features, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    W = np.asarray(components, dtype=np.float64)
    n, c = features.shape
    k = W.shape[0]
    if means.shape != (n, k) or W.shape[1] != c:
        raise ValueError(f"need features (N, C), means (N, K), components (K, C); got "
                         f"{features.shape}, {means.shape}, {W.shape}")
    base_z, base_p = head_outputs(model, features, head)
    t = base_z.shape[1]
    dz = np.empty((n, k, t))
    dp = np.empty((n, k, t))
    for a in range(0, n, chunk):
        f, m = features[a:a + chunk], means[a:a + chunk]
        removed = f[:, None, :] - m[:, :, None] * W[None]  # (n, K, C)
        z, p = head_outputs(model, removed.reshape(-1, c), head)
        dz[a:a + chunk] = base_z[a:a + chunk, None, :] - z.reshape(len(f), k, t)
        dp[a:a + chunk] = base_p[a:a + chunk, None, :] - p.reshape(len(f), k, t)
    return RemovalEffects(dz, dp, base_z, base_p)


def bootstrap_mean(values: np.ndarray, n_boot: int = 1000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile bootstrap interval (NaN when empty)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(v.mean()), float(lo), float(hi)


def class_effects(effects: np.ndarray, labels: np.ndarray, targets: Sequence[str],
                  n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per concept and target class: the mean effect on that class's probability over the
    images labelled with it, with a 95 % bootstrap interval.

    ``effects`` (N, K, T) for the images to summarise (e.g. the test split); ``labels``
    (N,) their class indices. Also ``pull``: the mean effect on the class over *all* the
    images — which classes a concept pulls towards, whatever the image shows.
    """
    effects = np.asarray(effects, dtype=np.float64)
    labels = np.asarray(labels)
    n, k, t = effects.shape
    rows = []
    for ti, name in enumerate(targets):
        own = labels == ti
        for ki in range(k):
            mean, lo, hi = bootstrap_mean(effects[own, ki, ti], n_boot, seed + 7919 * ki + ti)
            rows.append({"concept": ki, "target": name, "effect": mean, "low": lo, "high": hi,
                         "images": int(own.sum()),
                         "pull": float(effects[:, ki, ti].mean()) if n else float("nan")})
    return pd.DataFrame(rows)


def _removal_path(model, features, means, W, label_rows, target, order, head) -> np.ndarray:
    """Mean probability of ``target`` over the rows as concepts are removed one by one in
    ``order`` (step 0: none removed) — one head pass per step."""
    f, m = features[label_rows], means[label_rows]
    steps = [f]
    removed = f.copy()
    for k in order:
        removed = removed - m[:, [k]] * W[k][None]
        steps.append(removed)
    _, p = head_outputs(model, np.concatenate(steps), head)
    return p[:, target].reshape(len(steps), len(f)).mean(1)


def _keep_path(model, means, W, label_rows, target, order, head) -> np.ndarray:
    """Mean probability of ``target`` when only the first 0, 1, …, K concepts of ``order``
    are kept (the activation rebuilt from them alone)."""
    m = means[label_rows]
    steps = []
    for j in range(len(order) + 1):
        keep = list(order[:j])
        steps.append(m[:, keep] @ W[keep] if keep else np.zeros((len(m), W.shape[1])))
    _, p = head_outputs(model, np.concatenate(steps), head)
    return p[:, target].reshape(len(steps), len(m)).mean(1)


def area(curve: np.ndarray) -> float:
    """Area under a curve sampled at evenly spaced fractions 0 … 1 (trapezoids)."""
    y = np.asarray(curve, dtype=np.float64)
    return float(np.trapezoid(y, dx=1.0 / max(len(y) - 1, 1)))


def concept_curves(model: torch.nn.Module, features: np.ndarray, means: np.ndarray,
                   components: np.ndarray, labels: np.ndarray, orders: dict[int, Sequence[int]],
                   targets: Sequence[str], head: str = "city", random_orders: int = 5,
                   seed: int = 0) -> pd.DataFrame:
    """Concept deletion and insertion curves per class, as in pixel deletion/insertion.

    For each class t with images: remove its concepts cumulatively in ``orders[t]``
    (most effective first, ranked on other images than these to avoid selection bias)
    and in ``random_orders`` random orders; insertion keeps only the first j. Long form:
    class, curve (deletion / insertion), order (ranked / random), step, fraction, p.
    """
    features = np.asarray(features, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    W = np.asarray(components, dtype=np.float64)
    labels = np.asarray(labels)
    k = W.shape[0]
    rng = np.random.default_rng(seed)
    randoms = [rng.permutation(k) for _ in range(random_orders)]
    rows = []
    for ti, name in enumerate(targets):
        idx = np.flatnonzero(labels == ti)
        if idx.size == 0 or ti not in orders:
            continue
        ranked = list(orders[ti])
        ranked += [j for j in range(k) if j not in ranked]
        for curve, fn in (("deletion", lambda o: _removal_path(model, features, means, W, idx, ti, o, head)),
                          ("insertion", lambda o: _keep_path(model, means, W, idx, ti, o, head))):
            ranked_curve = fn(ranked)
            random_curve = np.mean([fn(list(o)) for o in randoms], axis=0) if randoms else ranked_curve
            for order, values in (("ranked", ranked_curve), ("random", random_curve)):
                for step, v in enumerate(values):
                    rows.append({"target": name, "curve": curve, "order": order, "step": step,
                                 "fraction": step / k, "p": float(v), "images": int(idx.size)})
    return pd.DataFrame(rows)


def curve_areas(curves: pd.DataFrame) -> pd.DataFrame:
    """AUC of every (class, curve, order) in :func:`concept_curves`' table."""
    if curves.empty:
        return pd.DataFrame(columns=["target", "curve", "order", "auc"])
    return (curves.sort_values("step").groupby(["target", "curve", "order"], sort=False)["p"]
            .apply(lambda s: area(s.to_numpy())).rename("auc").reset_index())


def completeness(model: torch.nn.Module, features: np.ndarray, means: np.ndarray,
                 components: np.ndarray, labels: np.ndarray, targets: Sequence[str],
                 head: str = "city") -> pd.DataFrame:
    """How much of the head's decision the concepts carry: accuracy on the activations
    rebuilt from all K concepts vs on the originals, per class and over all images.

    ``ratio`` = concept accuracy / original accuracy (1: the concepts alone are enough).
    """
    features = np.asarray(features, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    labels = np.asarray(labels)
    _, p_orig = head_outputs(model, features, head)
    _, p_rec = head_outputs(model, means @ np.asarray(components, dtype=np.float64), head)
    right_orig, right_rec = p_orig.argmax(1) == labels, p_rec.argmax(1) == labels
    rows = []
    for ti, name in [*enumerate(targets), (None, "all")]:
        own = np.ones(len(labels), bool) if ti is None else labels == ti
        if not own.any():
            continue
        orig, rec = float(right_orig[own].mean()), float(right_rec[own].mean())
        rows.append({"target": name, "images": int(own.sum()), "accuracy": orig,
                     "concept_accuracy": rec, "ratio": rec / orig if orig > 0 else float("nan")})
    return pd.DataFrame(rows)
