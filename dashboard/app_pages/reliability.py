"""Reliability page: can the maps this dashboard shows be trusted — for this model and
this data?

Reads what ``streetlens reliability RUN`` (or ``streetlens analyze RUN --reliability``)
wrote: the randomisation sanity check (Adebayo et al., 2018), deletion/insertion curves
against a random order, and, on the procedural demo streets, whether the maps point at
the annotated city cues. A verdict per method in plain words comes first.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.explain.reliability import verdict as vd
from analysis.explain.reliability.maps import method_label
from dashboard import state
from dashboard.figures import reliability as figs
from dashboard.trust import ICONS

CHART_CONFIG = {"displaylogo": False}

st.title("Reliability")
st.caption("Can these explanations be trusted? Three checks of every map method, computed for "
           "this run's own model and data.")

sel = state.require_analysis(state.select_run())
cache = sel.cache
if not cache.has("reliability"):
    st.info(f"**Not checked yet.** Run `streetlens reliability {sel.run.name}` (or "
            f"`streetlens analyze {sel.run.name} --reliability`): a few minutes on a CPU. It checks "
            "Grad-CAM, gradients, guided backprop, guided Grad-CAM and integrated gradients.")
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
  {params.get('seed', 0)}). Re-run with other sizes: `streetlens reliability {sel.run.name}
  --images 16 --ig-images 8`.
"""
    )
    secs = info.get("part_seconds")
    if secs:
        st.caption("Computed in " + ", ".join(f"{k} {v:.0f} s" for k, v in secs.items()) + ".")
