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
