"""An experiment's numbers: one row per run, the grid summarised across seeds (mean with a
t-interval), and which differences between grid points are more than noise.

Significance pairs the models on the *same* test images: every run saved its test
predictions (``RunFiles.predictions``), so for each grid point the per-image correctness is
averaged over its seeds, and two points are compared by a paired sign-flip permutation
test on those per-image scores (Holm-corrected over all pairs), with a bootstrap interval
of the difference. McNemar's test per matching seed says how often a single seed alone
would have shown the difference."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.experiment.grid import Experiment, cell_of
from analysis.explain.compare.stats import mcnemar, paired_permutation, seed_interval
from analysis.train.runs import Run, list_runs

GRID = ["backbone", "weights", "mode", "fraction"]


def experiment_runs(models_root: Path | str, name: str) -> list[Run]:
    """The finished runs of experiment ``name``."""
    return [r for r in list_runs(Path(models_root))
            if r.info.get("config", {}).get("extra", {}).get("experiment") == name]


def grouped_runs(models_root: Path | str) -> dict[str | None, list[Run]]:
    """Runs by experiment; key None holds the runs that belong to none."""
    out: dict[str | None, list[Run]] = {}
    for r in list_runs(Path(models_root)):
        out.setdefault(r.info.get("config", {}).get("extra", {}).get("experiment"), []).append(r)
    return out


def run_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: its grid point, seed and test/val accuracies."""
    rows = []
    for r in runs:
        cell, m = cell_of(r.info), r.info.get("metrics", {})
        if cell is None:
            continue
        rows.append({"run": r.name, "backbone": cell.backbone, "weights": r.info["config"].get("weights"),
                     "mode": cell.mode, "fraction": cell.fraction, "seed": cell.seed,
                     "n_train": r.info.get("dataset", {}).get("n_train"),
                     "test_city": m.get("test", {}).get("city", {}).get("accuracy"),
                     "test_city_f1": m.get("test", {}).get("city", {}).get("macro_f1"),
                     "test_group": m.get("test", {}).get("group", {}).get("accuracy"),
                     "val_city": m.get("val", {}).get("city", {}).get("accuracy"),
                     "train_s": r.info.get("timings", {}).get("total_s")})
    cols = ["run", *GRID, "seed", "n_train", "test_city", "test_city_f1", "test_group", "val_city", "train_s"]
    return pd.DataFrame(rows, columns=cols).sort_values(["fraction", "backbone", "mode", "seed"],
                                                        ascending=[False, True, True, True], ignore_index=True)


def summary_table(runs_df: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per grid point: seeds, mean test city accuracy with its t-interval across seeds,
    std, min and max; mean group accuracy and macro-F1; mean training time."""
    rows = []
    for key, g in runs_df.groupby(GRID, sort=False, dropna=False):
        iv = seed_interval(g["test_city"].astype(float), level)
        rows.append({**dict(zip(GRID, key)), "seeds": len(g), "test_city": iv.value,
                     # an accuracy lives in [0, 1]: the t-interval of few seeds can overshoot
                     "low": max(0.0, iv.low) if not np.isnan(iv.low) else iv.low,
                     "high": min(1.0, iv.high) if not np.isnan(iv.high) else iv.high, "std": float(g["test_city"].std(ddof=1)) if len(g) > 1 else float("nan"),
                     "min": float(g["test_city"].min()), "max": float(g["test_city"].max()),
                     "test_city_f1": float(g["test_city_f1"].mean()), "test_group": float(g["test_group"].mean()),
                     "n_train": int(g["n_train"].mean()) if g["n_train"].notna().all() else None,
                     "train_s": float(g["train_s"].mean())})
    return pd.DataFrame(rows)


def _correctness(run: Run, split: str = "test") -> pd.Series | None:
    """Per-image correctness of ``run`` on ``split`` (indexed by image id), or None for a
    run saved before predictions were kept."""
    path = run.files.predictions
    if not path.is_file():
        return None
    p = pd.read_csv(path)
    p = p[p["split"] == split]
    return pd.Series((p["pred_class"] == p["y_class"]).to_numpy(), index=p["id"].astype(str))


def significance(runs: list[Run], fraction: float | None = None, n_perm: int = 20_000,
                 seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Every pair of grid points at ``fraction`` (default: the largest): the difference of
    seed-averaged test accuracy (B − A) with a paired bootstrap interval, the permutation
    p-value (and Holm-adjusted), and in how many matching seeds McNemar's test alone finds
    it. Grid points whose runs lack saved predictions are left out."""
    from statsmodels.stats.multitest import multipletests

    table = run_table(runs)
    if table.empty:
        return pd.DataFrame()
    fraction = table["fraction"].max() if fraction is None else fraction
    by_name = {r.name: r for r in runs}
    points: dict[str, dict[int, pd.Series]] = {}
    for (backbone, mode), g in table[table["fraction"] == fraction].groupby(["backbone", "mode"], sort=False):
        per_seed = {int(s): _correctness(by_name[n]) for n, s in zip(g["run"], g["seed"])}
        if all(v is not None for v in per_seed.values()):
            points[f"{backbone} · {mode}"] = per_seed
    rows = []
    rng = np.random.default_rng(seed)
    for a, b in combinations(points, 2):
        ids = sorted(set.intersection(*(set(s.index) for s in [*points[a].values(), *points[b].values()])))
        if not ids:
            continue
        sa = np.mean([points[a][k].loc[ids].to_numpy(float) for k in points[a]], axis=0)
        sb = np.mean([points[b][k].loc[ids].to_numpy(float) for k in points[b]], axis=0)
        d = sb - sa
        boots = d[rng.integers(0, d.size, size=(2000, d.size))].mean(1)
        shared = sorted(set(points[a]) & set(points[b]))
        mc = [mcnemar(points[a][k].loc[ids], points[b][k].loc[ids])[1] for k in shared]
        rows.append({"a": a, "b": b, "images": len(ids), "acc_a": float(sa.mean()), "acc_b": float(sb.mean()),
                     "difference": float(d.mean()), "low": float(np.quantile(boots, 0.025)),
                     "high": float(np.quantile(boots, 0.975)),
                     "p": paired_permutation(sa, sb, n_perm=n_perm, seed=seed),
                     "seeds_significant": f"{sum(p < alpha for p in mc)}/{len(mc)}"})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["p_holm"] = multipletests(out["p"], method="holm")[1]
        out["significant"] = out["p_holm"] < alpha
    return out


def verdict(summary: pd.DataFrame, sig: pd.DataFrame) -> str:
    """One sentence: the best grid point at full data and which differences are real."""
    if summary.empty:
        return "No finished runs yet."
    full = summary[summary["fraction"] == summary["fraction"].max()].sort_values("test_city", ascending=False)
    best = full.iloc[0]
    ci = (f" (95 % across {best['seeds']} seeds: {best['low']:.1%}–{best['high']:.1%})"
          if best["seeds"] > 1 and not np.isnan(best["low"]) else "")
    text = f"Best: {best['backbone']} · {best['mode']}, {best['test_city']:.1%} test city accuracy{ci}."
    if sig is not None and not sig.empty:
        real = sig[sig["significant"]]
        if real.empty:
            text += f" None of the {len(sig)} differences between grid points is significant (Holm-adjusted p ≥ 0.05)."
        else:
            bits = [f"{(r.b if r.difference > 0 else r.a)} over {(r.a if r.difference > 0 else r.b)} "
                    f"by {abs(r.difference):.1%}" for r in real.itertuples()]
            text += f" Significant ({len(real)} of {len(sig)} pairs, Holm-adjusted p < 0.05): " + "; ".join(bits) + "."
    return text


def load(models_root: Path | str, name: str) -> tuple[Experiment, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(experiment, runs table, summary, significance) for the CLI and the dashboard."""
    exp = Experiment.load(models_root, name)
    runs = experiment_runs(models_root, name)
    table = run_table(runs)
    return exp, table, summary_table(table), significance(runs)
