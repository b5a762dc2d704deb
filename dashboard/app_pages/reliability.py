"""Reliability page: can the maps this dashboard shows be trusted — for this model and
this data?

Reads what ``streetlens reliability RUN`` (or ``streetlens analyze RUN --reliability``)
wrote: the randomisation sanity check (Adebayo et al., 2018), deletion/insertion curves
against a random order, and, on the procedural demo streets, whether the maps point at
the annotated city cues. A verdict per method in plain words comes first.

Next to the pixel-level deletion curves, the same test for concepts (the
``concept_effects`` stage: a city's concepts removed at the target layer in order of
measured effect vs in random order), and, when ``streetlens concepts sweep RUN`` has run,
which layer and how many concepts the concepts should have (the ``concept_sweep`` stage).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.explain.concepts import sweep as concept_sweep
from analysis.explain.reliability import verdict as vd
from analysis.explain.reliability.maps import method_label
from analysis.precompute import concept_views, missing_hint
from dashboard import export_ui, links, state
from dashboard.concept_names import concept_labels
from dashboard.figures import concept_charts
from dashboard.figures import reliability as figs
from dashboard.trust import ICONS

CHART_CONFIG = {"displaylogo": False}

st.title("Reliability")
st.caption("Can these explanations be trusted? Three checks of every map method, computed for "
           "this run's own model and data.")

sel = state.require_analysis(state.select_run())
cache = sel.cache


# ------------------------------------------------------------------ concepts
def concept_order(effects: pd.DataFrame, city: str, k: int) -> list[int]:
    """The order the ``concept_effects`` stage removes ``city``'s concepts in: by mean
    effect on the validation images, then the rest by index."""
    val = effects[(effects["split"] == "val") & (effects["target"] == city)]
    order = [int(c) for c in val.sort_values("effect", ascending=False)["concept"]]
    return order + [c for c in range(k) if c not in order]


def concept_deletion_section() -> None:
    """Concept deletion (and insertion) curves, per city or averaged, ranked vs random."""
    st.subheader("Concepts instead of pixels")
    if not cache.has("concept_curves"):
        st.info(f"Not computed yet: {missing_hint(sel.name, 'concept_curves')}.")
        return
    curves = state.table(cache, "concept_curves")
    summary = concept_views.deletion_summary(curves)
    if summary.empty:
        st.info("The concept curves are empty: no test image to measure them on.")
        return
    st.markdown(
        "The same test one level up: each city's **concepts** (NMF directions at the target layer) "
        "are taken out of its test images' activations one at a time — in the order of their "
        "measured effect on that city (ranked on the validation images, so the test images do "
        "not choose their own order), or in random order (grey, the mean of several orders). "
        "If the concepts that the portraits lead with really carry the decision, the red "
        "curve falls much faster than the grey one.")
    cities = list(summary["target"])
    c1, c2 = st.columns([1, 2])
    choice = c1.selectbox("City", ["all cities (mean)", *cities], key="rel_concept_city")
    city = None if choice not in cities else choice
    k = int(curves["step"].max())
    names = concept_labels(cache)
    effects = state.table(cache, "concept_effects") if cache.has("concept_effects") else None
    removed = [names.get(c, f"concept {c}") for c in concept_order(effects, city, k)] \
        if city is not None and effects is not None else None
    # insertion's areas: the same summary on the insertion rows (the mean over the cities of
    # their areas is the area of their mean curve)
    ins_summary = concept_views.deletion_summary(
        curves[curves["curve"] == "insertion"].assign(curve="deletion"))

    def areas(table: pd.DataFrame) -> dict[str, float] | None:
        if city is not None:
            table = table[table["target"] == city]
        return {o: float(table[f"auc_{o}"].mean()) for o in ("ranked", "random")} if len(table) else None

    auc, ins = areas(summary), areas(ins_summary)
    ratio = auc["ranked"] / auc["random"] if auc["random"] > 0 else float("nan")
    c2.markdown(f"**{choice}**: deletion AUC **{auc['ranked']:.2f}** in order of effect vs "
                f"**{auc['random']:.2f}** in random order — ratio **{ratio:.2f}** (below 1: the ranked "
                "concepts matter more; 1: no better than random).")
    d1, d2 = st.columns(2)
    fig_d = concept_charts.concept_deletion_figure(curves, city, "deletion", aucs=auc, removed=removed)
    d1.plotly_chart(fig_d, width="stretch", theme=None, config=CHART_CONFIG, key="rel_concept_del")
    with d1:
        export_ui.download_buttons(fig_d, f"concept-deletion-{city or 'all-cities'}")
    if ins is not None:
        fig_i = concept_charts.concept_deletion_figure(curves, city, "insertion", aucs=ins, removed=removed)
        d2.plotly_chart(fig_i, width="stretch", theme=None, config=CHART_CONFIG, key="rel_concept_ins")
        with d2:
            export_ui.download_buttons(fig_i, f"concept-insertion-{city or 'all-cities'}")
    shown = summary.copy()
    nums = [c for c in shown.columns if c not in ("target", "images", "drop_ratio")]
    shown[nums] = shown[nums].astype(float).round(2) + 0.0  # no "-0.00"
    shown["drop_ratio"] = [f"{r:.2f}" if pd.notna(r) else "–" for r in shown["drop_ratio"]]
    table = shown.rename(columns={
        "target": "city", "images": "test images", "p_start": "p (all concepts)", "auc_ranked": "AUC ranked",
        "auc_random": "AUC random", "auc_ratio": "AUC ratio", "drop_ranked": "drop, top 3",
        "drop_random": "drop, 3 random", "drop_ratio": "drop ratio"})
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.2f") for c in
                                ("p (all concepts)", "AUC ranked", "AUC random", "AUC ratio", "drop, top 3",
                                 "drop, 3 random")})
    st.caption("AUC: the mean probability of the city over the deletion curve (lower is better); AUC "
               "ratio = ranked ÷ random. Drop: how much the city's mean probability falls once the "
               "first 3 concepts are removed; drop ratio = top 3 ÷ 3 random (above 1: the ranked "
               "concepts matter more; – when 3 random concepts do not lower it at all). "
               "Insertion keeps only the first concepts (an activation rebuilt from them alone).")
    st.markdown("Which concepts these are, city by city: "
                + " · ".join(links.city_link(sel.name, c) for c in sel.labels.classes))


def sweep_section() -> None:
    """Layers × k: reconstruction error, stability, completeness, and the recommendation."""
    st.header("Which layer, how many concepts?")
    if not cache.has("concept_sweep"):
        st.info(f"No sweep yet: run `streetlens concepts sweep {sel.name}` (optionally "
                "`--layers … --k 6,12,24`) to compare layers × numbers of concepts.")
        return
    table = state.table(cache, "concept_sweep")
    if table.empty:
        st.info("The sweep table is empty.")
        return
    rec = table[table["recommended"].astype(bool)] if "recommended" in table else table.iloc[:0]
    if len(rec):
        st.success(f"**Recommended:** {rec['reason'].iat[0]}.", icon=":material/recommend:")
    params = cache.manifest.get("stages", {}).get("concepts", {}).get("params", {})
    st.markdown(
        "Concepts fitted at each layer with each k, on training images, then measured on "
        "validation images: **reconstruction error** (how much of the activation the k concepts "
        "miss), **stable concepts** (the share that come back when the concepts are refitted on "
        "other images), and **completeness** (the accuracy when that layer's output is replaced "
        "by its concept reconstruction, over the accuracy on the original; the dotted lines are "
        f"the thresholds of the recommendation: {concept_sweep.MIN_STABLE:.0%} stable, "
        f"{concept_sweep.MIN_COMPLETENESS:.0%} completeness). The recommended setting is circled.")
    fig = concept_charts.sweep_figure(table, thresholds={"stable_share": concept_sweep.MIN_STABLE,
                                                         "completeness": concept_sweep.MIN_COMPLETENESS})
    st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="rel_sweep")
    export_ui.download_buttons(fig, "concept-sweep")
    shown = table.drop(columns=[c for c in ("reason",) if c in table]).rename(columns={
        "relative_error": "reconstruction error", "stable_share": "stable concepts",
        "concept_accuracy": "accuracy on concepts", "negative_fraction": "clipped (negative) share"})
    st.dataframe(shown, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="percent") for c in
                                ("reconstruction error", "stable concepts", "accuracy", "accuracy on concepts",
                                 "completeness", "clipped (negative) share")})
    k_now = params.get("n_concepts")
    if k_now:
        layer = getattr(getattr(sel.run, "spec", None), "target_layer", None)
        st.caption(f"This run's concepts: k={k_now}" + (f" at {layer}" if layer else "") + ". Another k: "
                   f"`streetlens analyze {sel.name} --concepts K --redo concepts`.")


if not cache.has("reliability"):
    st.info(f"**Not checked yet** (the pixel-level maps). Run `streetlens reliability {sel.name}` (or "
            f"`streetlens analyze {sel.name} --reliability`): a few minutes on a CPU. It checks "
            "Grad-CAM, gradients, guided backprop, guided Grad-CAM and integrated gradients.")
    st.header("Does removing a city's concepts change the prediction?")
    concept_deletion_section()
    sweep_section()
    st.stop()

table = state.table(cache, "reliability")
curves = state.table(cache, "reliability_curves") if cache.has("reliability_curves") else pd.DataFrame(
    columns=["kind", "method", "step", "fraction", "value", "std", "n"])
info = cache.manifest.get("stages", {}).get("reliability", {})
params = info.get("params", {})
verdicts = vd.verdicts_from_table(table)
methods = list(verdicts)

# ------------------------------------------------------------------ verdicts
st.subheader("Verdicts")
for v in verdicts.values():
    st.markdown(f"{ICONS[v.level]} **{v.label}**: {v.text[len(v.label) + 2:]}")
n_img, n_heavy = info.get("images"), info.get("heavy_images")
if n_img:
    st.caption(f"Randomisation and deletion/insertion on {n_img} correctly classified test images "
               f"(one city after another, seeded)"
               + (f"; integrated gradients on {n_heavy} of them ({params.get('reliability_ig_steps', '?')} "
                  "steps) because every step costs a full backward pass" if n_heavy else "")
               + ". Verdict thresholds are explained at the bottom of the page.")

# ------------------------------------------------------------------ randomisation
st.header("1 · Does the map depend on what the model learned?")
st.markdown(
    "The *model-parameter randomisation test* (Adebayo et al., 2018, *Sanity checks for saliency "
    "maps*) replaces the trained weights by random ones — **cascading** from the logits down "
    "to the first layer, or one layer at a time (**independent**) — and compares each "
    "method's map before and after. A map that stays the same once the weights are random "
    "cannot be explaining what the model learned: it shows the picture (edges, contrast). "
    "A trustworthy method's curve falls.")
c1, c2 = st.columns(2)
mode = c1.segmented_control("Randomisation", ["cascade", "independent"], default="cascade",
                            format_func={"cascade": "cascading from the top",
                                         "independent": "one layer at a time"}.get, key="rel_mode")
metric = c2.segmented_control("Similarity", list(figs.METRIC_LABELS), default="rank_corr_abs",
                              format_func=figs.METRIC_LABELS.get, key="rel_metric")
mode, metric = mode or "cascade", metric or "rank_corr_abs"
rnd = table[table["check"] == "randomization"]
if rnd.empty:
    st.info("The randomisation check did not run.")
else:
    if mode not in set(rnd["mode"]):
        st.info(f"The {mode} schedule was not computed (`--modes cascade,independent`).")
    else:
        st.plotly_chart(figs.randomization_figure(table, mode, metric), width="stretch", theme=None,
                        config=CHART_CONFIG, key="rel_rand")
        if metric == "rank_corr_signed":
            st.caption("Signed rank correlation only for methods whose sign means something "
                       "(guided backprop, guided Grad-CAM, integrated gradients).")
    rows = []
    cas = rnd[(rnd["mode"] == "cascade") & (rnd["metric"] == "rank_corr_abs")]
    for m in methods:
        d = cas[cas["method"] == m]
        get = lambda ms: d[d["milestone"] == ms]["value"].iloc[0] if (d["milestone"] == ms).any() else None  # noqa: E731
        rows.append({"method": method_label(m), "logits random": get("logits"), "head random": get("head"),
                     "last block random": get("last_block"), "all layers random": get("all"),
                     "images": int(d["n"].max()) if len(d) else 0,
                     "verdict": verdicts[m].randomization or "–"})
    st.markdown("**Rank correlation (absolute maps) with the trained model's map**, cascading:")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.2f") for c in
                                ("logits random", "head random", "last block random", "all layers random")})

# ------------------------------------------------------------------ faithfulness
st.header("2 · Does removing what the map highlights change the prediction?")
baseline = params.get("reliability_baseline", "blur")
st.markdown(
    "**Deletion**: the pixels are replaced, most important first according to each map, "
    + ("by a blurred copy of the image" if baseline == "blur" else "by the image's mean colour")
    + f", in {params.get('reliability_steps', 20)} steps, and the probability of the true city "
    "is tracked; a faithful map makes it drop fast (small area under the curve). **Insertion** "
    "starts from the " + ("blurred" if baseline == "blur" else "mean-colour") + " image and "
    "reveals the most important pixels first (large area is good). The grey dashed line is "
    f"the same procedure in a random pixel order ({params.get('reliability_random_orders', 3)} "
    "seeds): what an explanation that knows nothing scores.")
fa = table[table["check"] == "faithfulness"]
if fa.empty or curves.empty:
    st.info("The deletion/insertion check did not run.")
else:
    def aucs(kind):
        d = fa[fa["metric"] == f"{kind}_auc"]
        return dict(zip(d["method"], d["value"]))

    c1, c2 = st.columns(2)
    c1.plotly_chart(figs.perturbation_figure(curves, "deletion", aucs=aucs("deletion")), width="stretch",
                    theme=None, config=CHART_CONFIG, key="rel_del")
    c2.plotly_chart(figs.perturbation_figure(curves, "insertion", aucs=aucs("insertion")), width="stretch",
                    theme=None, config=CHART_CONFIG, key="rel_ins")
    rows = [{"method": v.label, "deletion AUC": v.deletion_auc, "random order": v.deletion_random,
             "insertion AUC": v.insertion_auc, "random order ": v.insertion_random,
             "images": v.faithfulness_n, "verdict": v.faithfulness or "–"} for v in verdicts.values()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in
                                ("deletion AUC", "random order", "insertion AUC", "random order ")})
    st.caption("AUC = mean probability of the true city over the curve (0–1). The random order is "
               "computed on the same images as each method (integrated gradients: a subset).")
concept_deletion_section()

# ------------------------------------------------------------------ localisation
st.header("3 · Does the map point at the city's cues?")
loc = table[table["check"] == "localization"]
if loc.empty:
    st.info(info.get("localization") or
            "No ground truth for this dataset: only the procedural demo streets "
            "(`streetlens data synth`) come with annotated cues.")
else:
    tol = params.get("reliability_tolerance", 15)
    st.markdown(
        "The demo streets carry the exact pixel mask of every signature cue (London's red bus, "
        "Moscow's onion domes, Tokyo's vertical signs …). **Pointing game** (Zhang et al., 2016): "
        f"a hit when the map's maximum lies on a cue of the true city (within {tol} px at 224 px). "
        "The black bar is chance: how often a random point would hit. **Energy**: the share of the "
        "map's positive mass inside those cues.")
    subset = st.segmented_control("Images", ["correct", "all"], default="correct",
                                  format_func={"correct": "correctly classified", "all": "all test images"}.get,
                                  key="rel_subset") or "correct"
    c1, c2 = st.columns([2, 3])
    c1.plotly_chart(figs.pointing_figure(table, subset), width="stretch", theme=None, config=CHART_CONFIG,
                    key="rel_pg")
    with c2:
        st.markdown("**Pointing game per city**")
        st.plotly_chart(figs.pointing_by_class_figure(table, subset), width="stretch", theme=None,
                        config=CHART_CONFIG, key="rel_pg_class")
    d = loc[(loc["subset"] == subset) & (loc["class"] == "all")]
    piv = d.pivot_table(index="method", columns="metric", values="value", aggfunc="first")
    ns = d[d["metric"] == "pointing_game"].set_index("method")["n"]
    rows = [{"method": method_label(m), "pointing game": piv.at[m, "pointing_game"],
             "chance": piv.at[m, "pointing_chance"], "energy in cues": piv.at[m, "energy"],
             "cue area": piv.at[m, "mask_area"], "images": int(ns.get(m, 0)),
             "excluded (no cue of its city)": int(piv.at[m, "excluded"])}
            for m in dict.fromkeys(d["method"]) if m in piv.index]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="percent") for c in
                                ("pointing game", "chance", "energy in cues", "cue area")})
    g = loc[(loc["subset"] == subset) & (loc["metric"] == "pointing_game") & (loc["class"] != "all")
            & (loc["n"] >= 5)]  # a city with a handful of images says little
    if not g.empty:
        worst = g.sort_values(["value", "n"], ascending=[True, False]).iloc[0]
        st.caption(f"Lowest: {method_label(worst['method'])} on **{worst['class']}** ({worst['value']:.0%} of "
                   f"{int(worst['n'])} images). A low score says where the map points, not why: the model may "
                   "use something that is not annotated as a cue (a facade style, the road) — look at those "
                   "images on the Sample page before blaming the explanation.")
    li = info.get("localization_images", {})
    st.caption(f"Grad-CAM on every test image (from the analysis cache); the other methods on "
               f"{li.get('others', '?')} test images, a few per city. Images without any cue of "
               "their own city cannot be scored and are excluded.")

sweep_section()

# ------------------------------------------------------------------ method
with st.expander("How the verdicts are decided"):
    st.markdown(
        f"""
- **Randomisation**: the mean rank correlation (Spearman, absolute maps) between the trained
  model's map and the map once everything from the logits down to the trunk's *last block*
  is random (cascade). Below **{vd.RANDOMIZATION_PASS}**: *passes*; **{vd.RANDOMIZATION_FAIL}** or
  more: *FAILS* (the map is largely the same without the trained weights); in between:
  *partly passes*. A map still correlated **{vd.RANDOMIZATION_FAIL}** or more once only the
  output layer is random ignores the class it explains: at most *partly passes*. SSIM is
  computed on the display-normalised maps (what you see).
- **Faithfulness**: deletion AUC at least **{vd.FAITHFUL_MARGIN}** below the random order's
  (paired, same images): *faithful*; below it by less: *barely better than random*; otherwise
  *no better than random*.
- **Localisation** is reported against chance, without a verdict: whether a model should
  look at the annotated cues is a question about the model, not about the explanation.
- Sample: correctly classified **test** images, one city after another (seed
  {params.get('seed', 0)}). Re-run with other sizes: `streetlens reliability {sel.name}
  --images 16 --ig-images 8`.
"""
    )
    secs = info.get("part_seconds")
    if secs:
        st.caption("Computed in " + ", ".join(f"{k} {v:.0f} s" for k, v in secs.items()) + ".")
