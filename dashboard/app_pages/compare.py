"""Compare: two runs of one dataset on the same images — is one better by more than noise,
do they get the same images right, do they look at the same places, do they represent
the street alike, which concepts do they share?

URL: ``compare?a=RUN_A&b=RUN_B&split=test`` reopens the pair. Everything comes from
``analysis.precompute.compare_views.compare`` (the same numbers as ``streetlens compare``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.data.dataset import Dataset

from analysis.precompute.compare_views import Comparison, CompareError, check_same_dataset, compare
from analysis.store import CacheError
from dashboard import export_ui, links, state
from dashboard.concept_names import concept_labels
from dashboard.figures import compare as figures
from dashboard.safe_text import plain

CHART_CONFIG = {"displayModeBar": False}
SPLITS = ["test", "val", "all"]
DISAGREE_SHOWN = 8


@st.cache_data(show_spinner="Comparing the two runs on every image …", max_entries=8)
def _compare(root_a: str, mtime_a: float, root_b: str, mtime_b: float, split: str,
             _a, _b) -> Comparison:
    return compare(_a, _b, split)


def pick_runs() -> tuple[str, str, str] | None:
    names = state.run_names()
    if len(names) < 2:
        st.info("Comparing needs two trained and analysed runs of one dataset: train another, e.g. "
                "`streetlens train --dataset D --backbone B --mode transfer`, then `streetlens analyze RUN`.")
        return None
    a = state.url_selectbox("Run A", names, "a", container=st.sidebar)
    rest = [n for n in names if n != a]
    b = state.url_selectbox("Run B", rest, "b", container=st.sidebar)
    split = state.url_selectbox("Images", SPLITS, "split", default="test", container=st.sidebar)
    return a, b, split


def accuracy_section(c: Comparison) -> None:
    st.subheader("Is one better by more than noise?")
    total = c.accuracy.iloc[0]
    verdict = ("significant" if total["significant"] else "not significant")
    st.markdown(f"On **{int(total['images'])}** {c.split} images: **A** {total['acc_a']:.1%} "
                f"[{total['low_a']:.1%}, {total['high_a']:.1%}] vs **B** {total['acc_b']:.1%} "
                f"[{total['low_b']:.1%}, {total['high_b']:.1%}] — a difference of {total['difference']:+.1%}, "
                f"McNemar p = {total['p_mcnemar']:.3f}: **{verdict}** at 5 %.")
    fig = figures.accuracy_chart(c.accuracy, c.run_a, c.run_b,
                                 title="Accuracy per city, 95 % bootstrap intervals (* significant, McNemar)")
    st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="compare_accuracy")
    export_ui.download_buttons(fig, f"compare-{c.run_a}-{c.run_b}-accuracy")


def agreement_section(c: Comparison, sel_a: state.Selection, run_b: str) -> None:
    st.subheader("Do they get the same images right?")
    fig = figures.agreement_chart(c.agreement, title="Agreement on the same images")
    st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="compare_agreement")
    export_ui.download_buttons(fig, f"compare-{c.run_a}-{c.run_b}-agreement")
    samples = sel_a.samples().set_index("id")
    tabs = st.tabs([f"{r.cell} ({r.images})" for r in c.agreement.itertuples()])
    for tab, r in zip(tabs, c.agreement.itertuples()):
        with tab:
            ids = list(r.ids)[:24]
            if not ids:
                st.caption("No image.")
                continue
            cols = st.columns(8)
            for i, image_id in enumerate(ids):
                row = samples.loc[image_id]
                with cols[i % 8]:
                    st.image(state.thumbnail_bytes(str(sel_a.image_path(row["path"])), 120), width="stretch")
                    st.markdown(f"[{plain(row['class'])} ↗]({links.sample_url(sel_a.run.name, image_id)})")


def maps_section(c: Comparison, sel_a: state.Selection) -> None:
    st.subheader("Do they look at the same places?")
    rho = c.map_correlation["rho"]
    st.markdown(f"Per image, the Spearman rank correlation of the two runs' Grad-CAM for the true city: "
                f"median **{rho.median():.2f}**; {(rho < 0.3).mean():.0%} of the images below 0.3.")
    fig = figures.map_correlation_chart(c.map_correlation, title="Where they look, per city")
    st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="compare_maps")
    export_ui.download_buttons(fig, f"compare-{c.run_a}-{c.run_b}-maps")
    worst = c.map_correlation.dropna(subset=["rho"]).sort_values("rho").head(DISAGREE_SHOWN)
    samples = sel_a.samples().set_index("id")
    st.markdown("**Where they disagree most** (lowest ρ):")
    cols = st.columns(DISAGREE_SHOWN)
    for col, r in zip(cols, worst.to_dict("records")):
        with col:
            st.image(state.thumbnail_bytes(str(sel_a.image_path(samples.loc[r["id"], "path"])), 120), width="stretch")
            st.markdown(f"ρ {r['rho']:.2f} · [{plain(r['class'])} ↗]({links.sample_url(sel_a.run.name, r['id'])})")


def concepts_section(c: Comparison, sel_a: state.Selection, sel_b: state.Selection) -> None:
    st.subheader("What do they represent, and which concepts do they share?")
    st.markdown(f"Linear CKA of the two runs' pooled features on these images: **{c.cka:.3f}** "
                "(1: the same representation up to a rotation and scale).")
    if c.concepts is None:
        st.info("Concepts are missing for one of the runs: run `streetlens analyze` on both.")
        return
    names_a, names_b = concept_labels(sel_a.cache), concept_labels(sel_b.cache)
    table = pd.DataFrame({
        "A's concept": [names_a.get(int(k), "—") if k >= 0 else "—" for k in c.concepts["concept_a"]],
        "B's concept": [names_b.get(int(k), "—") if k >= 0 else "—" for k in c.concepts["concept_b"]],
        "map correlation": c.concepts["similarity"].round(2),
        "shared": c.concepts["shared"]})
    shared = int(c.concepts["shared"].sum())
    st.markdown(f"**{shared}** concept pairs are shared (their maps correlate ≥ 0.5 on the same images); "
                "the others are unique to one model.")
    st.dataframe(table, hide_index=True, width="stretch")


def main() -> None:
    st.title("Compare")
    st.caption("Two runs of one dataset on the same images.")
    picked = pick_runs()
    if picked is None:
        st.stop()
    a, b, split = picked
    sels = []
    for name in (a, b):
        run = state.get_run(name)
        sel = state.Selection(run, state.get_cache(run), Dataset(Path(run.info["dataset"]["path"])), [])
        if not sel.ready:
            st.warning(f"Run **{name}** has not been analysed yet: run `streetlens analyze {name}`.")
            st.stop()
        sels.append(sel)
    sel_a, sel_b = sels
    try:
        check_same_dataset(sel_a.cache, sel_b.cache)
        c = _compare(str(sel_a.cache.root), sel_a.cache.mtime("samples"), str(sel_b.cache.root),
                     sel_b.cache.mtime("samples"), split, sel_a.cache, sel_b.cache)
    except (CompareError, CacheError) as exc:
        st.error(str(exc))
        st.stop()
    st.markdown(f"**A** = {plain(a)} · **B** = {plain(b)} · {c.split} images")
    accuracy_section(c)
    agreement_section(c, sel_a, b)
    maps_section(c, sel_a)
    concepts_section(c, sel_a, sel_b)


if __name__ == "__main__":
    main()
