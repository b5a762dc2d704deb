"""Compare: two runs of one dataset on the same images — is one better by more than noise,
do they get the same images right, do they look at the same places, do they represent
the street alike, which concepts do they share?

URL: ``compare?a=RUN_A&b=RUN_B&split=test`` reopens the pair. Everything comes from
``analysis.precompute.compare_views.compare`` (the same numbers as ``streetlens compare``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.precompute.compare_views import Comparison, CompareError, check_same_dataset, compare, layer_cka
from analysis.store import CacheError
from dashboard import export_ui, links, state
from dashboard.concept_names import concept_labels
from dashboard.figures import compare as figures
from dashboard.figures import images
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
    unknown = [v for v in (state.url_get("a"), state.url_get("b")) if v and v not in names]
    if unknown:
        st.warning(f"There is no run {plain(unknown[0])!r} under {plain(str(state.models_root()))}; "
                   "pick the runs in the sidebar.")
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
                    st.markdown(f"[{plain(row['class'])} ↗]({links.sample_url(sel_a.name, image_id, run_b, row['class'])})")


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
            st.markdown(f"ρ {r['rho']:.2f} · [{plain(r['class'])} ↗]({links.sample_url(sel_a.name, r['id'], c.run_b, r['class'])})")


def _patches(sel: state.Selection, concept: int, n: int = 5):
    """A strip of ``concept``'s top patches in ``sel``'s cache (None without patches)."""
    if concept < 0 or not sel.cache.has("concept_patches"):
        return None
    table = state.table(sel.cache, "concept_patches")
    files = table[table["concept"] == concept].sort_values("rank").head(n)["file"]
    pics = [p for p in (export_ui.cache_picture(sel, f) for f in files) if p is not None]
    return images.image_grid(pics, ncols=n, cell=72, pad=2, keep_columns=True) if pics else None


def concepts_section(c: Comparison, sel_a: state.Selection, sel_b: state.Selection) -> None:
    st.subheader("What do they represent, and which concepts do they share?")
    st.markdown(f"Linear CKA of the two runs' pooled features on these images: **{c.cka:.3f}** "
                "(1: the same representation up to a rotation and scale).")
    layer_cka_section(c, sel_a, sel_b)
    if c.concepts is None:
        st.info("Concepts are missing for one of the runs: run `streetlens analyze` on both.")
        return
    names_a, names_b = concept_labels(sel_a.cache), concept_labels(sel_b.cache)
    pairs = c.concepts.sort_values("similarity", ascending=False)
    shared = pairs[pairs["shared"]]
    st.markdown(f"**{len(shared)}** concept pairs are shared (their maps correlate ≥ 0.5 on the same images, "
                "matched one to one by the Hungarian assignment); the others are unique to one model. "
                "Each concept with its top patches:")
    for title, rows in (("Shared", shared), ("Unique (or only weakly matched)", pairs[~pairs["shared"]])):
        if rows.empty:
            continue
        st.markdown(f"**{title}**")
        for r in rows.itertuples():
            ka, kb = int(r.concept_a), int(r.concept_b)
            c1, c2, c3 = st.columns([2, 0.6, 2])
            for col, sel, k, names, side in ((c1, sel_a, ka, names_a, "A"), (c3, sel_b, kb, names_b, "B")):
                with col:
                    if k < 0:
                        st.caption(f"no concept of {side} left to pair")
                        continue
                    st.markdown(f"{side} · concept {k}: **{plain(names.get(k, '—'))}**")
                    strip = _patches(sel, k)
                    if strip is not None:
                        st.image(strip, width="stretch")
            c2.metric("map corr.", f"{r.similarity:.2f}" if ka >= 0 and kb >= 0 else "—")


@st.fragment
def layer_cka_section(c: Comparison, sel_a: state.Selection, sel_b: state.Selection) -> None:
    """Per-layer CKA: computed on request (both models run over the images), then stored."""
    from analysis.store import pair_file

    stored = pair_file(state.cache_root(), c.run_a, c.run_b, f"layer_cka_{c.split}").is_file()
    if not stored:
        n = int(c.accuracy.iloc[0]["images"])
        prompt = st.empty()
        with prompt.container():
            st.markdown(f"**Layer by layer**: CKA between every stage of A and every stage of B needs both models "
                        f"to run over the {min(n, 200)} images (about 30–60 s on a 2-core CPU).")
            clicked = st.button("Compute per-layer CKA", icon=":material/stacked_line_chart:", key="layer_cka_go")
        if not clicked:
            return
        prompt.empty()  # the result replaces the offer
    bar = st.progress(0.0, text="running both models over the images …") if not stored else None
    table = layer_cka(c.run_a, c.run_b, c.split, state.models_root(), state.cache_root(),
                      progress=(lambda d, t: bar.progress(d / t, text=f"batch {d} of {t}")) if bar else None)
    if bar is not None:
        bar.empty()
    fig = figures.layer_cka_chart(table, c.run_a, c.run_b, title=f"Linear CKA, stage by stage "
                                                               f"({int(table['images'].iat[0])} images)")
    st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="compare_layer_cka")
    st.caption(figures.layer_cka_sentence(table))
    export_ui.download_buttons(fig, f"compare-{c.run_a}-{c.run_b}-layer-cka")


def main() -> None:
    st.title("Compare")
    st.caption("Two runs of one dataset on the same images.")
    picked = pick_runs()
    if picked is None:
        st.stop()
    a, b, split = picked
    sels = []
    for name in (a, b):
        sel = state.selection_of(name)
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
        st.error(plain(str(exc)))
        st.stop()
    st.markdown(f"**A** = {plain(a)} · **B** = {plain(b)} · {c.split} images")
    st.session_state[export_ui.COMPARE_PAIR] = (a, b, c.split)  # the talk pack's comparison
    accuracy_section(c)
    agreement_section(c, sel_a, b)
    maps_section(c, sel_a)
    concepts_section(c, sel_a, sel_b)
    export_ui.talk_pack_builder(sel_a)


if __name__ == "__main__":
    main()
