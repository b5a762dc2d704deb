"""The Overview's experiments: each grid of runs (``streetlens experiment``) in one
section — a sentence with the best grid point and the differences that are real, the chart
of accuracy with intervals across seeds, the data-efficiency curves when the grid has
several training fractions, the table, the pairwise tests, and its runs (click one to open
it) — instead of one loose row per run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.store import RunFiles, experiment_file, experiment_files
from dashboard import state
from dashboard.export_ui import download_buttons
from dashboard.figures import charts
from dashboard.figures import experiment as figures
from dashboard.safe_text import plain


@st.cache_data(show_spinner=False)
def _load(root: str, name: str, stamps: tuple):
    from analysis.experiment import results

    return results.load(Path(root), name)


def load(name: str):
    """(experiment, runs, summary, significance), recomputed when a run of it changes."""
    root = state.models_root()
    stamps = tuple((f.root.name, f.info.stat().st_mtime) for f in RunFiles.all_in(root)
                   if f.root.name.startswith(name))
    spec = experiment_file(root, name)
    return _load(str(root), name, (stamps, spec.stat().st_mtime if spec.is_file() else 0))


def experiment_names() -> list[str]:
    return [p.stem for p in experiment_files(state.models_root())]


def _summary_view(summary: pd.DataFrame) -> pd.DataFrame:
    out = summary[["backbone", "mode", "fraction", "n_train", "seeds", "test_city", "low", "high", "std",
                   "test_city_f1", "test_group", "train_s"]].copy()
    out["interval"] = [("–" if pd.isna(lo) else f"{lo:.1%} – {hi:.1%}") for lo, hi in zip(out["low"], out["high"])]
    out = out.drop(columns=["low", "high"])
    return out.rename(columns={"n_train": "training images", "test_city": "test city acc (mean)",
                               "interval": "95 % across seeds", "std": "std across seeds",
                               "test_city_f1": "macro-F1", "test_group": "group acc", "train_s": "train s"})


def experiment_section(name: str, selected: str | None, expanded: bool) -> None:
    from analysis.experiment import results

    exp, runs, summary, sig = load(name)
    n_cells = len(exp.cells())
    head = (f"Experiment **{plain(exp.name)}** on {plain(Path(exp.dataset).name)} — {len(runs)} of {n_cells} runs: "
            f"{', '.join(exp.backbones)} × {', '.join(exp.modes)}"
            + (f" × fractions {', '.join(f'{f:g}' for f in exp.fractions)}" if len(exp.fractions) > 1 else "")
            + f" × {len(exp.seeds)} seeds")
    with st.expander(head, expanded=expanded):
        if runs.empty:
            st.info(f"No run finished yet: `streetlens experiment --dataset {exp.dataset} --name {exp.name}` trains them.")
            return
        st.markdown(plain(results.verdict(summary, sig)))
        if len(runs) < n_cells:
            st.caption(f"{n_cells - len(runs)} runs still missing: rerun `streetlens experiment --dataset "
                       f"{exp.dataset} --name {exp.name}`; finished runs are skipped.")
        full = summary["fraction"].max()
        fig = figures.grid_chart(summary, runs, title=f"Test city accuracy, {full:.0%} of the training images: "
                                                      "mean and 95 % interval across seeds")
        st.plotly_chart(fig, width="stretch", theme=None, config={"displayModeBar": False}, key=f"exp_grid_{name}")
        download_buttons(fig, f"experiment {name} accuracy", key=f"dl-exp-grid-{name}")
        if summary["fraction"].nunique() > 1:
            fig = figures.efficiency_chart(summary, runs, title="Data efficiency: accuracy against training images")
            st.plotly_chart(fig, width="stretch", theme=None, config={"displayModeBar": False},
                            key=f"exp_eff_{name}")
            st.caption("One line per backbone · mode, its band the 95 % interval across seeds."
                       + (" Where the from-scratch line meets a pretrained one, more data has made up for the "
                          "pre-training." if "scratch" in set(summary["mode"]) else ""))
            download_buttons(fig, f"experiment {name} data efficiency", key=f"dl-exp-eff-{name}")
        st.dataframe(_summary_view(summary).style.format(
            {"test city acc (mean)": "{:.1%}", "std across seeds": lambda v: "–" if pd.isna(v) else f"{v:.1%}",
             "macro-F1": "{:.1%}", "group acc": "{:.1%}", "train s": "{:.0f}", "fraction": "{:.0%}"}),
            hide_index=True, width="stretch")
        if not sig.empty:
            st.markdown(f"**Which differences are real?** Paired on the same {int(sig['images'].iat[0])} test images "
                        "(each image's correctness averaged over the seeds; sign-flip permutation test, "
                        "Holm-adjusted over all pairs; McNemar's test per matching seed for comparison).")
            view = sig.assign(pair=[f"{b} − {a}" for a, b in zip(sig["a"], sig["b"])],
                              interval=[f"{lo:+.1%} to {hi:+.1%}" for lo, hi in zip(sig["low"], sig["high"])])
            st.dataframe(view[["pair", "difference", "interval", "p", "p_holm", "significant", "seeds_significant"]]
                         .rename(columns={"interval": "95 % bootstrap", "p_holm": "p (Holm)",
                                          "seeds_significant": "McNemar < 0.05 in seeds"})
                         .style.format({"difference": "{:+.1%}", "p": "{:.4f}", "p (Holm)": "{:.4f}"}),
                         hide_index=True, width="stretch")
        key = f"exp_runs_{name}"
        st.session_state[f"{key}_names"] = runs["run"].tolist()
        st.markdown(f"Its {len(runs)} runs (click a row's left edge to open one; two of them side by side on the "
                    "Compare page once both are analysed):")
        shown = runs.drop(columns=["weights"]).assign(fraction=[f"{f:.0%}" for f in runs["fraction"]])
        st.dataframe(charts.style_comparison(shown, selected, rename=False),
                     hide_index=True, width="stretch", on_select=lambda: state.pick_run_from_table(key),
                     selection_mode="single-row", key=key, height=min(400, 38 + 35 * len(runs)))


def experiments_section(selected: str | None, selected_experiment: str | None) -> None:
    names = experiment_names()
    if not names:
        return
    st.subheader("Experiments")
    st.caption("Grids of runs trained by `streetlens experiment` (the study's table on any dataset).")
    for name in sorted(names, key=lambda n: n != selected_experiment):
        experiment_section(name, selected, expanded=name == selected_experiment or len(names) == 1)
