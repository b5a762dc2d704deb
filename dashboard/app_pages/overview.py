"""Overview: how good is the selected run, how does it compare, and on what data.

Headline metrics (test city accuracy, macro-F1, group accuracy), the runs of the study
compared (mode × backbone, both heads, val and test; the selected run highlighted — click
a row to switch to it), confusion matrices of both heads on val and test (row-normalised,
counts in the hover; click a cell to open those images on the Sample page), training
curves, and the dataset's counts per class × split. Everything comes from the run's info,
the training history and the dataset table: no model, no cache needed.

Without any run it explains what to do and offers to build the offline demo as a
background job (``analysis.jobs``), whose progress the job itself writes.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from analysis import jobs
from analysis.precompute import missing_hint, portrait_views
from analysis.store import RunFiles
from dashboard import experiment_view, links, state
from dashboard.safe_text import plain
from dashboard.figures import charts

DEMO_LOG = "demo-build.log"
DEMO_PID = "demo-build.pid"
EXIT_MARK = "[streetlens-demo exit "


# ------------------------------------------------------------------ demo build job
DEMO_JOB = "demo"


def demo_status() -> jobs.JobStatus | None:
    """The background build's state (its own progress file), or None when none was started."""
    return jobs.job_status(DEMO_JOB, state.cache_root())


def start_demo() -> int:
    """Start ``streetlens demo`` for the dashboard's folders in the background; never waits."""
    roots = (state.data_root(), state.models_root(), state.cache_root())
    return jobs.start_job(DEMO_JOB, jobs.demo_args(*roots), state.cache_root(), env=jobs.roots_env(*roots))


def demo_panel() -> None:
    """What to do without a run, and the demo build's button / progress."""
    st.subheader("Build the offline demo")
    st.markdown(
        "The demo draws procedural streets of ten cities, trains EfficientNet-Lite0 on them "
        "(transfer learning and fine-tuning) and analyses every run — offline, "
        "**about 4.5 minutes** on a 2-core CPU, with the Places365 model and the reliability check. You can keep using the dashboard meanwhile.")
    status = demo_status()
    if status is None or status.state == "failed":
        if status is not None:
            st.error(f"The last demo build failed: {status.message}. The end of its log:")
            st.code("\n".join(status.log_tail), language=None)
        label = "Build the demo" if status is None else "Try again"
        if st.button(label, type="primary", icon=":material/construction:", key="demo_start"):
            start_demo()
            st.rerun()
        st.caption("Runs `streetlens demo` in the background; you can keep using the dashboard.")
        return
    demo_progress()


@st.fragment(run_every=2.0)
def demo_progress() -> None:
    status = demo_status()
    if status is None:
        return
    if status.running:
        with st.status(f"Building the demo … {status.fraction:.0%}", expanded=True, state="running"):
            st.progress(status.fraction, text=status.step or "starting …")
            st.code("\n".join(status.log_tail[-8:]), language=None)
        return
    if status.state == "done":
        st.success("The demo is ready.")
        state.run_names.clear()
        if st.button("Open it", type="primary", key="demo_open"):
            st.rerun(scope="app")
        return
    st.rerun(scope="app")  # failed: the panel shows the log and a retry button


# --------------------------------------------------------------------------- loaders
@st.cache_data(show_spinner=False)
def _comparison(root: str, stamps: tuple) -> pd.DataFrame:
    from analysis.train.runs import comparison_table, list_runs

    return comparison_table(list_runs(Path(root)))


def comparison() -> pd.DataFrame:
    root = state.models_root()
    stamps = tuple((f.root.name, f.info.stat().st_mtime) for f in RunFiles.all_in(root))
    return _comparison(str(root), stamps)


@st.cache_data(show_spinner=False)
def _counts(dataset_root: str, mtime: float) -> pd.DataFrame:
    from analysis.data.dataset import Dataset
    from analysis.data.summary import count_table

    return count_table(Dataset(Path(dataset_root)).read())


@st.cache_data(show_spinner=False)
def _history(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_csv(path)


def history(run) -> pd.DataFrame:
    p = run.files.history
    return _history(str(p), p.stat().st_mtime) if p.is_file() else pd.DataFrame()


def pct(v) -> str:
    """Metric values as the page shows them: ``0.9417`` → ``94.2%``; missing → ``–``."""
    return "–" if v is None or pd.isna(v) else f"{v:.1%}"


def metric(info: dict, split: str, head: str, key: str = "accuracy"):
    return info.get("metrics", {}).get(split, {}).get(head, {}).get(key)


# ------------------------------------------------------------------------------ page
def _selection(event, field: str) -> list:
    """``event.selection.<field>`` of a dataframe / chart selection state, or []."""
    try:
        return list(event["selection"][field] or [])
    except (KeyError, TypeError, AttributeError):
        return []


def headline(run) -> None:
    info = run.info
    c1, c2, c3, c4 = st.columns(4)
    n_test = metric(info, "test", "city", "n")
    c1.metric("Test city accuracy", pct(metric(info, "test", "city")),
              help=f"{n_test} test images" if n_test else None)
    c2.metric("Test city macro-F1", pct(metric(info, "test", "city", "macro_f1")),
              help="Mean of the per-city F1 scores (every city counts the same).")
    c3.metric("Test group accuracy", pct(metric(info, "test", "group")),
              help="The group head (" + " / ".join(run.labels.groups) + ").")
    c4.metric("Val city accuracy", pct(metric(info, "val", "city")),
              help="What early stopping chose the epoch by.")


def foreign_headline(sel) -> None:
    """The run explained on another dataset: how it does there (from that analysis), before
    the numbers of its own test split below."""
    if not sel.ready:
        return
    samples = sel.samples("correct", "correct_group")
    c1, c2, c3 = st.columns(3)
    c1.metric(f"City accuracy on {sel.dataset.name}", pct(samples["correct"].mean()),
              help=f"All {len(samples)} images of that dataset, whatever their split.")
    c2.metric("Group accuracy there", pct(samples["correct_group"].mean()))
    c3.metric("Images", f"{len(samples):,}")
    st.caption(f"Below: the run's own metrics, on the test split of the dataset it was trained on "
               f"({run_dataset(sel)}).")


def run_dataset(sel) -> str:
    return sel.run.info.get("dataset", {}).get("name", "?")


def portraits_section(sel) -> None:
    """Where the question gets answered: a link to every city's portrait, and the
    shortcut finder's flags (or what it checked when it found none)."""
    if not sel.ready:
        return
    run = sel.name
    st.markdown("**What makes each city?** Portraits: "
                + " · ".join(links.city_link(run, c) for c in sel.labels.classes))
    if not sel.cache.has("shortcut_flags"):
        st.caption(f"Shortcut finder not run yet: {missing_hint(run, 'shortcut_flags')}.")
        return
    flags = state.table(sel.cache, "shortcut_flags")
    for f in flags.itertuples():
        st.warning(f"**Possible shortcut** — {plain(f.text)} Look at: {plain(f.look)} ([open]({f.link}))",
                   icon=":material/warning:")
    line = portrait_views.property_line(sel.cache)
    if flags.empty:
        st.caption("Shortcut finder: nothing found (evidence fixed in the frame, file properties, near-duplicates "
                   "across the split)" + (f"; {line}." if line else "."))
    elif line:
        st.caption(f"Shortcut finder: {line}.")


def runs_section(selected: str) -> None:
    st.subheader("Runs compared")
    df = comparison()
    grouped = df["experiment"].notna() if "experiment" in df else pd.Series(False, index=df.index)
    df = df[~grouped].drop(columns="experiment", errors="ignore").reset_index(drop=True)
    if df.empty:
        st.caption("Every run belongs to an experiment (below)." if grouped.any() else "No runs.")
        return
    st.session_state["runs_table_names"] = df["run"].tolist()
    same = [c for c in ("dataset", "weights") if c in df and df[c].nunique() <= 1]
    show = df.drop(columns=same)
    st.dataframe(charts.style_comparison(show, selected), hide_index=True, width="stretch",
                 on_select=lambda: state.pick_run_from_table("runs_table"), selection_mode="single-row",
                 key="runs_table")
    common = ", ".join(f"{c} **{df[c].iat[0]}**" for c in same)
    st.caption("Accuracy of the city and the group head on val and test, macro-F1 of cities on test. Best value "
               "of each metric in green; the selected run is highlighted — click a row's left edge "
               "to switch to that run." + (f" All runs: {common}." if common else ""))
    if "weights" in df and not (df["weights"].astype(str) == "places365").any():
        st.caption("No Places365 run yet, so the study's Places vs ImageNet comparison is missing: "
                   "`streetlens weights fetch wideresnet18_places365`, then `streetlens demo` adds one "
                   "(or `streetlens train --backbone resnet18_places365 …` on your dataset).")
    if len(df) >= 2:
        st.markdown(f"Two runs side by side: [compare {plain(df['run'].iat[0])} with {plain(df['run'].iat[1])}]"
                    f"(compare?{urlencode({'a': df['run'].iat[0], 'b': df['run'].iat[1]})})")


def confusion_section(run) -> None:
    st.subheader("Confusion matrices")
    st.caption("Rows: true class, columns: prediction; colour and numbers are shares of the row "
               "(recall on the diagonal), the hover shows counts. Click a cell to open those "
               "images on the Sample page.")
    labels = run.labels
    tabs = st.tabs(["City", "Group (" + " / ".join(labels.groups) + ")"])
    for tab, head, names in ((tabs[0], "city", labels.classes), (tabs[1], "group", labels.groups)):
        with tab:
            cols = st.columns(2)
            for col, split in zip(cols, ("val", "test")):
                m = run.info.get("metrics", {}).get(split, {}).get(head)
                with col:
                    if not m or "confusion" not in m:
                        st.info(f"No {split} metrics in the run's info.")
                        continue
                    fig = charts.confusion_matrix(
                        m["confusion"], m.get("labels", names),
                        title=f"{split} · {head} · accuracy {pct(m.get('accuracy'))} (n = {m.get('n', '?')})")
                    event = st.plotly_chart(fig, width="stretch", theme=None, on_select="rerun",
                                            selection_mode="points", key=f"cm_{head}_{split}",
                                            config={"displayModeBar": False})
                    _open_cell(event, head, split, m.get("labels", names))


def _open_cell(event, head: str, split: str, names) -> None:
    """A clicked confusion cell → the Sample page filtered to those images."""
    points = _selection(event, "points")
    if not points:
        return
    p = points[0]
    true, pred = p.get("y"), p.get("x")
    if true is None or pred is None:
        return
    params = {"split": split}
    key_true, key_pred = ("true", "pred") if head == "city" else ("gtrue", "gpred")
    params[key_true], params[key_pred] = true, pred
    run_name = state.url_get("run")
    if run_name:
        params["run"] = run_name
    st.switch_page("app_pages/sample.py", query_params=params)


def curves_section(run) -> None:
    st.subheader("Training")
    h = history(run)
    fig = charts.training_curves(h, run.info.get("best_epoch"))
    st.plotly_chart(fig, width="stretch", theme=None, config={"displayModeBar": False})
    t = run.info.get("timings", {})
    bits = [f"best epoch {run.info['best_epoch']}" if run.info.get("best_epoch") else None,
            f"{len(h)} epochs run" if len(h) else None,
            f"trained in {t['total_s']:.0f} s" if t.get("total_s") else None,
            f"on {run.info.get('device')}" if run.info.get("device") else None]
    st.caption(" · ".join(b for b in bits if b))


def dataset_section(sel) -> None:
    st.subheader("Data")
    ds = sel.dataset
    if not ds.exists():
        st.warning(f"The run's dataset is not at `{ds.root}` any more.")
        return
    counts = _counts(str(ds.root), ds.table_path.stat().st_mtime)
    n = int(counts.loc["all", "total"]) if "all" in counts.index else int(counts["total"].sum())
    st.markdown(f"Dataset **{ds.name}**: {n} images, {len(counts) - 1} classes, "
                f"counts per class × split (`streetlens data summary --dataset {ds.name}`).")
    st.dataframe(counts, width="stretch", height=38 + 35 * len(counts))


def main() -> None:
    st.title("Overview")
    sel = state.select_run()
    if sel is None:
        demo_panel()
        st.stop()
    run = sel.run
    cfg = run.info["config"]
    st.markdown(f"#### `{sel.name}`")
    if sel.selected:
        foreign_headline(sel)
    st.caption(f"{cfg['backbone']} ({cfg['weights']} weights) · {cfg['mode']} · dataset "
               f"**{run.info.get('dataset', {}).get('name', '?')}** · "
               f"{len(run.labels.classes)} cities, groups {' / '.join(run.labels.groups)} · "
               f"trained {str(run.info.get('created', ''))[:16].replace('T', ' ')}")
    if not sel.ready:
        st.info(f"Not analysed yet, so the Sample, Errors and Atlas pages are empty: run "
                f"`streetlens analyze {sel.name}`.")
    for p in sel.problems if sel.ready else []:
        st.warning(f"Stale analysis: {p}")
    headline(run)
    portraits_section(sel)
    runs_section(run.name)
    experiment_view.experiments_section(run.name, cfg.get("extra", {}).get("experiment"))
    confusion_section(run)
    curves_section(run)
    dataset_section(sel)


if __name__ == "__main__":
    main()
