"""Accuracy with a bootstrap interval, and whether two models differ by more than noise
on the *same* images (McNemar's test on the paired predictions, from statsmodels)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    n: int


def bootstrap_accuracy(correct, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Interval:
    """Share of ``correct`` (bools) with a percentile bootstrap interval over the images;
    the same ``seed`` gives the same interval."""
    c = np.asarray(correct, dtype=np.float64)
    if c.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = c[rng.integers(0, c.size, size=(n_boot, c.size))].mean(1)
    a = (1 - level) / 2
    return Interval(float(c.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a)), int(c.size))


def paired_table(a_correct, b_correct) -> np.ndarray:
    """2 × 2 counts [[both right, only A right], [only B right, both wrong]]."""
    a, b = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    if a.shape != b.shape:
        raise ValueError(f"paired predictions need the same images: {a.shape} vs {b.shape}")
    return np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])


def mcnemar(a_correct, b_correct) -> tuple[float, float]:
    """(statistic, p-value) of McNemar's test on the paired predictions: exact binomial
    when fewer than 25 images differ, else the chi-square with continuity correction."""
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    table = paired_table(a_correct, b_correct)
    exact = table[0, 1] + table[1, 0] < 25
    result = sm_mcnemar(table, exact=exact, correction=True)
    return float(result.statistic), float(result.pvalue)


def accuracy_table(labels: np.ndarray, a_correct, b_correct, names: Sequence[str], n_boot: int = 2000,
                   seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Per class (and "all"): both models' accuracies with intervals on the same images,
    the difference, McNemar's p and whether it is significant at ``alpha``."""
    labels = np.asarray(labels)
    a, b = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    rows = []
    for i, name in [(None, "all"), *enumerate(names)]:
        own = np.ones(len(labels), bool) if i is None else labels == i
        if not own.any():
            continue
        ia, ib = bootstrap_accuracy(a[own], n_boot, seed), bootstrap_accuracy(b[own], n_boot, seed)
        _, p = mcnemar(a[own], b[own])
        rows.append({"class": name, "images": int(own.sum()), "acc_a": ia.value, "low_a": ia.low,
                     "high_a": ia.high, "acc_b": ib.value, "low_b": ib.low, "high_b": ib.high,
                     "difference": ib.value - ia.value, "p_mcnemar": p, "significant": bool(p < alpha)})
    return pd.DataFrame(rows)


def seed_interval(values, level: float = 0.95) -> Interval:
    """Mean of per-seed accuracies with a Student-t interval across the seeds (how much
    the result moves when only the seed changes); NaN bounds with a single seed."""
    from scipy import stats as st

    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(v.mean())
    if v.size < 2:
        return Interval(mean, float("nan"), float("nan"), 1)
    half = float(st.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return Interval(mean, mean - half, mean + half, int(v.size))


def paired_permutation(a_scores, b_scores, n_perm: int = 20_000, seed: int = 0) -> float:
    """Two-sided p-value that two models' per-image scores (e.g. correctness averaged over
    seeds) have the same mean: random sign flips of the per-image differences, the
    observed mean difference counted among them (so p is never 0)."""
    d = np.asarray(b_scores, np.float64) - np.asarray(a_scores, np.float64)
    if d.size == 0 or not np.any(d):
        return 1.0
    rng = np.random.default_rng(seed)
    observed = abs(d.mean())
    hits = 0
    for start in range(0, n_perm, 2000):
        signs = rng.choice((-1.0, 1.0), size=(min(2000, n_perm - start), d.size))
        hits += int(np.sum(np.abs((signs * d).mean(1)) >= observed - 1e-12))
    return (hits + 1) / (n_perm + 1)
