"""The experiment's table: summaries across seeds checked by hand, significance paired on
the same test images (sign flips, Holm), and the verdict sentence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from analysis.experiment import results
from analysis.store import RunFiles
from analysis.train.runs import list_runs

N_TEST = 40


def _write_run(models, name, backbone, mode, fraction, seed, correct, experiment="e"):
    """A run folder as training writes it: its info (config + metrics) and its test predictions."""
    folder = models / name
    folder.mkdir(parents=True)
    correct = np.asarray(correct, bool)
    y = np.arange(N_TEST) % 2
    pred = np.where(correct, y, 1 - y)
    acc = float(correct.mean())
    info = {"name": name, "config": {"backbone": backbone, "mode": mode, "weights": "w", "seed": seed,
                                     "train_fraction": fraction, "extra": {"experiment": experiment}},
            "dataset": {"name": "ds", "n_train": int(100 * fraction)},
            "metrics": {"test": {"city": {"accuracy": acc, "macro_f1": acc}, "group": {"accuracy": 1.0}},
                        "val": {"city": {"accuracy": acc}}},
            "timings": {"total_s": 10.0}}
    RunFiles(folder).info.write_text(json.dumps(info))
    pd.DataFrame({"split": "test", "id": [f"img{i}" for i in range(N_TEST)], "y_class": y, "pred_class": pred,
                  "y_group": 0, "pred_group": 0}).to_csv(RunFiles(folder).predictions, index=False)


def _mask(k):
    """The first k of the test images right."""
    return np.arange(N_TEST) < k


@pytest.fixture
def grid(tmp_path):
    models = tmp_path / "models"
    # strong: 36, 38, 37 of 40 right; weak: 20, 22, 21; half-data strong: 30, 31, 32
    for seed, (s, w, h) in enumerate([(36, 20, 30), (38, 22, 31), (37, 21, 32)]):
        _write_run(models, f"strong-{seed}", "b", "finetune", 1.0, seed, _mask(s))
        _write_run(models, f"weak-{seed}", "b", "transfer", 1.0, seed, _mask(w))
        _write_run(models, f"half-{seed}", "b", "finetune", 0.5, seed, _mask(h))
    _write_run(models, "loose", "b", "transfer", 1.0, 0, _mask(10), experiment=None)
    return models


def test_runs_are_grouped_by_experiment(grid):
    groups = results.grouped_runs(grid)
    assert len(groups["e"]) == 9 and [r.name for r in groups[None]] == ["loose"]
    assert len(results.experiment_runs(grid, "e")) == 9


def test_summary_is_the_mean_and_t_interval_across_seeds(grid):
    table = results.run_table(results.experiment_runs(grid, "e"))
    assert len(table) == 9 and table["fraction"].iloc[0] == 1.0
    summary = results.summary_table(table).set_index(["mode", "fraction"])
    strong = summary.loc[("finetune", 1.0)]
    accs = np.array([36, 38, 37]) / 40
    half = st.t.ppf(0.975, 2) * accs.std(ddof=1) / np.sqrt(3)
    assert strong["seeds"] == 3
    assert strong["test_city"] == pytest.approx(accs.mean())
    assert (strong["low"], strong["high"]) == (pytest.approx(accs.mean() - half), pytest.approx(accs.mean() + half))
    assert (strong["min"], strong["max"]) == (0.9, 0.95)
    assert summary.loc[("finetune", 0.5), "n_train"] == 50


def test_significance_pairs_seed_averaged_correctness(grid):
    sig = results.significance(results.experiment_runs(grid, "e"), n_perm=5000)
    assert len(sig) == 1  # the two full-data grid points; the half-data runs are their own curve
    row = sig.iloc[0]
    assert {row["a"], row["b"]} == {"b · finetune", "b · transfer"}
    strong = np.mean([_mask(k) for k in (36, 38, 37)], axis=0)
    weak = np.mean([_mask(k) for k in (20, 22, 21)], axis=0)
    sign = 1 if row["b"] == "b · finetune" else -1
    assert row["difference"] == pytest.approx(sign * (strong - weak).mean())
    assert row["low"] <= row["difference"] <= row["high"]
    assert row["p"] < 0.001 and row["significant"] and row["seeds_significant"] == "3/3"
    half = results.significance(results.experiment_runs(grid, "e"), fraction=0.5)
    assert half.empty  # one grid point at half data: nothing to pair


def test_verdict_names_the_best_and_the_real_differences(grid):
    runs = results.experiment_runs(grid, "e")
    summary = results.summary_table(results.run_table(runs))
    text = results.verdict(summary, results.significance(runs, n_perm=2000))
    assert text.startswith("Best: b · finetune, 92.5% test city accuracy (95 % across 3 seeds:")
    assert "Significant (1 of 1 pairs" in text and "b · finetune over b · transfer by 40.0%" in text
    assert results.verdict(summary.iloc[0:0], None) == "No finished runs yet."


def test_runs_without_saved_predictions_are_left_out_of_the_tests(grid):
    for seed in range(3):
        RunFiles(grid / f"weak-{seed}").predictions.unlink()
    assert results.significance(results.experiment_runs(grid, "e")).empty
    assert len(list_runs(grid)) == 10
