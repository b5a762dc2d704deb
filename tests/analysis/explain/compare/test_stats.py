"""Accuracy intervals and McNemar's test on paired predictions, against hand counts and statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from analysis.explain.compare.stats import accuracy_table, bootstrap_accuracy, mcnemar, paired_table


def _pairs(both, only_a, only_b, neither):
    a = [1] * both + [1] * only_a + [0] * only_b + [0] * neither
    b = [1] * both + [0] * only_a + [1] * only_b + [0] * neither
    return np.array(a, bool), np.array(b, bool)


def test_paired_table_counts_by_hand():
    a, b = _pairs(5, 3, 1, 2)
    assert paired_table(a, b).tolist() == [[5, 3], [1, 2]]
    with pytest.raises(ValueError, match="same images"):
        paired_table(a, b[:-1])


def test_mcnemar_matches_statsmodels_exact_and_chi_square():
    a, b = _pairs(50, 8, 1, 5)  # 9 discordant: exact binomial
    stat, p = mcnemar(a, b)
    ref = sm_mcnemar([[50, 8], [1, 5]], exact=True)
    assert (stat, p) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    assert p == pytest.approx(2 * sum(__import__("math").comb(9, k) for k in range(0, 2)) / 2 ** 9)  # hand: P(X≤1)·2
    a, b = _pairs(100, 30, 10, 20)  # 40 discordant: chi-square with continuity correction
    stat, p = mcnemar(a, b)
    assert stat == pytest.approx((abs(30 - 10) - 1) ** 2 / 40)
    assert p == pytest.approx(sm_mcnemar([[100, 30], [10, 20]], exact=False, correction=True).pvalue)


def test_bootstrap_interval_is_reproducible_and_brackets_the_mean():
    c = np.array([1] * 70 + [0] * 30, bool)
    i1, i2 = bootstrap_accuracy(c, seed=3), bootstrap_accuracy(c, seed=3)
    assert i1 == i2  # the same seed, the same interval …
    few = {bootstrap_accuracy(c, n_boot=20, seed=s) for s in range(10)}
    assert bootstrap_accuracy(c, n_boot=20, seed=5) == bootstrap_accuracy(c, n_boot=20, seed=5) and len(few) > 3  # … and the seed matters
    assert i1.value == 0.7 and i1.low < 0.7 < i1.high and 0.55 < i1.low and i1.high < 0.85


def test_accuracy_table_per_class():
    labels = np.array([0] * 10 + [1] * 12)
    a = np.array([1] * 10 + [1] * 6 + [0] * 6, bool)
    b = np.array([1] * 10 + [0] * 12, bool)
    t = accuracy_table(labels, a, b, ["x", "y"], n_boot=200).set_index("class")
    assert t.loc["all", "acc_a"] == 16 / 22 and t.loc["all", "acc_b"] == 10 / 22
    assert t.loc["y", "difference"] == -0.5 and t.loc["x", "p_mcnemar"] == 1.0
    assert t.loc["y", "p_mcnemar"] == pytest.approx(2 / 2 ** 6)  # 6 discordant, all one way
    assert bool(t.loc["y", "significant"]) is True and bool(t.loc["x", "significant"]) is False


def test_seed_interval_is_the_student_t_interval_by_hand():
    from scipy import stats as st

    from analysis.explain.compare.stats import seed_interval

    iv = seed_interval([0.80, 0.84, 0.88])
    half = st.t.ppf(0.975, 2) * 0.04 / np.sqrt(3)  # sd of (0.80, 0.84, 0.88) is 0.04
    assert (iv.value, iv.low, iv.high, iv.n) == (pytest.approx(0.84), pytest.approx(0.84 - half),
                                                 pytest.approx(0.84 + half), 3)
    one = seed_interval([0.7])
    assert one.value == 0.7 and np.isnan(one.low) and one.n == 1


def test_paired_permutation_against_the_exact_sign_flip_distribution():
    from itertools import product

    from analysis.explain.compare.stats import paired_permutation

    a = np.array([0, 0, 1, 0, 1, 0, 0, 1], float)
    b = np.array([1, 1, 1, 0, 1, 1, 0, 0], float)
    d = b - a
    flips = [abs(np.mean(np.array(s) * d)) for s in product((-1, 1), repeat=d.size)]
    exact = np.mean([f >= abs(d.mean()) - 1e-12 for f in flips])  # all 2^8 sign patterns
    assert paired_permutation(a, b, n_perm=40_000, seed=1) == pytest.approx(exact, abs=0.01)
    assert paired_permutation(a, b, seed=5) == paired_permutation(a, b, seed=5)
    assert paired_permutation(a, a) == 1.0
