"""Reliability page against the analysed tiny run: the verdicts and numbers of a
hand-made reliability table are shown as written; without the checks the page says how
to run them; the real stage's output renders."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.explain.concepts.sweep import MIN_COMPLETENESS, MIN_STABLE
from analysis.explain.reliability.sampling import long_form
from analysis.precompute import concept_views
from analysis.store import RunCache

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "dashboard" / "app_pages" / "reliability.py"
METHODS = {"gradcam": (0.12, 0.21, 0.87), "gradient": (0.30, 0.35, 0.40), "guided_backprop": (0.85, 0.45, 0.30),
           "guided_gradcam": (0.75, 0.30, 0.60), "integrated_gradients": (0.55, 0.38, 0.35)}
RANDOM_DEL, RANDOM_INS = 0.43, 0.52
LAYERS = [("original", ""), ("logits", "logits"), ("shared.0", "head"), ("trunk.block3", "last_block"),
          ("trunk.block2", ""), ("trunk.block1", "all")]


def handmade_tables(classes) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, curves = [], []
    for m, (rho, dele, pg) in METHODS.items():
        for mode in ("cascade", "independent"):
            for step, (layer, ms) in enumerate(LAYERS):
                val = 1.0 if step == 0 else rho + {1: 0.3, 2: 0.05, 3: 0.0, 4: -0.02, 5: -0.04}[step]
                for metric in ("rank_corr_abs", "ssim"):
                    rows.append(dict(check="randomization", metric=metric, method=m, mode=mode, step=step,
                                     layer=layer, milestone=ms if mode == "cascade" else "", value=val,
                                     std=0.05, n=8))
        rows += [dict(check="faithfulness", metric="deletion_auc", method=m, value=dele, std=0.1, n=8),
                 dict(check="faithfulness", metric="deletion_auc_diff", method=m, value=dele - RANDOM_DEL, n=8),
                 dict(check="faithfulness", metric="insertion_auc", method=m, value=0.7, std=0.1, n=8),
                 dict(check="faithfulness", metric="insertion_auc_diff", method=m, value=0.7 - RANDOM_INS, n=8)]
        for subset in ("correct", "all"):
            for cls in ["all", *classes]:
                rows += [dict(check="localization", metric="pointing_game", method=m, subset=subset,
                              value=pg, n=30, **{"class": cls}),
                         dict(check="localization", metric="pointing_chance", method=m, subset=subset,
                              value=0.2, n=30, **{"class": cls}),
                         dict(check="localization", metric="energy", method=m, subset=subset,
                              value=0.4, n=30, **{"class": cls}),
                         dict(check="localization", metric="mask_area", method=m, subset=subset,
                              value=0.1, n=30, **{"class": cls}),
                         dict(check="localization", metric="excluded", method=m, subset=subset,
                              value=2.0, n=32, **{"class": cls})]
        for kind in ("deletion", "insertion"):
            for step in range(21):
                f = step / 20
                curves.append(dict(kind=kind, method=m, step=step, fraction=f,
                                   value=(1 - f) if kind == "deletion" else f, std=0.1, n=8))
    rows += [dict(check="faithfulness", metric="deletion_auc", method="random", value=RANDOM_DEL, n=8),
             dict(check="faithfulness", metric="insertion_auc", method="random", value=RANDOM_INS, n=8)]
    for kind in ("deletion", "insertion"):
        curves += [dict(kind=kind, method="random", step=s, fraction=s / 20, value=0.5, std=0.1, n=8)
                   for s in range(21)]
    table = pd.concat([long_form(pd.DataFrame([r]), r["check"]) for r in rows], ignore_index=True)
    return table, pd.DataFrame(curves)


@pytest.fixture
def rel_env(analysed_run, tmp_path, monkeypatch):
    """A copy of the analysed cache (so the session fixture stays as it is) in a fresh
    cache root, with the env vars pointing there."""
    run, cache, roots = analysed_run
    root = tmp_path / "cache"
    shutil.copytree(cache.root, root / run.name)
    for k, v in {**roots, "STREETLENS_CACHE": str(root)}.items():
        monkeypatch.setenv(k, v)
    return run, RunCache(root / run.name)


def write_handmade(run, cache: RunCache) -> None:
    table, curves = handmade_tables(list(run.labels.classes))
    cache.write_table("reliability", table)
    cache.write_table("reliability_curves", curves)
    cache.mark_stage("reliability", 12.0, params={"reliability_steps": 20, "reliability_baseline": "blur",
                                                 "reliability_random_orders": 3, "reliability_ig_steps": 8,
                                                 "reliability_tolerance": 15, "seed": 0},
                     images=8, heavy_images=4, localization_images={"gradcam": 120, "others": 30})


def run_page(run) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.query_params["run"] = run.name
    return at.run()


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n" + "\n".join(c.value for c in at.caption)


def test_verdicts_and_numbers_shown(rel_env):
    run, cache = rel_env
    write_handmade(run, cache)
    at = run_page(run)
    assert not at.exception, [e.message for e in at.exception]
    body = texts(at)
    assert (":green[:material/verified:] **Grad-CAM**: passes the randomisation check (rank correlation falls to 0.12 once the last "
            "block is randomised); deletion AUC 0.21 vs 0.43 for a random order: faithful") in body
    assert "points at its city's cues in 87% of correctly classified test images (chance 20%)" in body
    assert (":red[:material/dangerous:] **Guided backprop**: FAILS the randomisation check — its maps stay similar (0.85) when the "
            "model's weights are random") in body
    assert "**Integrated gradients**: partly passes the randomisation check — rank correlation still 0.55" in body
    assert "on 8 correctly classified test images" in body and "integrated gradients on 4 of them" in body
    frames = [d.value for d in at.dataframe]
    rand = next(f for f in frames if "last block random" in f.columns).set_index("method")
    assert rand.loc["Grad-CAM", "last block random"] == pytest.approx(0.12)
    assert rand.loc["Grad-CAM", "logits random"] == pytest.approx(0.42)
    assert rand.loc["Guided backprop", "verdict"] == "FAILS"
    faith = next(f for f in frames if "deletion AUC" in f.columns).set_index("method")
    assert faith.loc["Grad-CAM", "deletion AUC"] == pytest.approx(0.21)
    assert faith.loc["Grad-CAM", "random order"] == pytest.approx(RANDOM_DEL)
    assert faith.loc["Guided backprop", "verdict"] == "no better than random"
    loc = next(f for f in frames if "pointing game" in f.columns).set_index("method")
    assert loc.loc["Grad-CAM", "pointing game"] == pytest.approx(0.87)
    assert loc.loc["Grad-CAM", "excluded (no cue of its city)"] == 2
    # randomisation, deletion, insertion, the same two for concepts, pointing, per class
    assert [c.key for c in at.get("plotly_chart")] == ["rel_rand", "rel_del", "rel_ins", "rel_concept_del",
                                                       "rel_concept_ins", "rel_pg", "rel_pg_class"]


def test_switching_schedule_and_metric(rel_env):
    run, cache = rel_env
    write_handmade(run, cache)
    at = run_page(run)
    at.segmented_control(key="rel_mode").set_value("independent").run()
    at.segmented_control(key="rel_metric").set_value("ssim").run()
    at.segmented_control(key="rel_subset").set_value("all").run()
    assert not at.exception, [e.message for e in at.exception]


def test_not_checked_yet(rel_env):
    run, _ = rel_env
    at = run_page(run)
    assert not at.exception
    info = " ".join(i.value for i in at.info)
    assert f"streetlens reliability {run.name}" in info and "Not checked yet" in info
    # the concept checks do not need the pixel ones
    assert [c.key for c in at.get("plotly_chart")] == ["rel_concept_del", "rel_concept_ins"]


def test_real_stage_output_renders(rel_env):
    from analysis.precompute import AnalyzeConfig, analyze

    run, cache = rel_env
    analyze(run.path, config=AnalyzeConfig(stages=("forward", "reliability"), reliability_images=3,
                                           reliability_ig_images=1, reliability_ig_steps=2, reliability_steps=4,
                                           reliability_random_orders=1, reliability_modes="cascade"),
            cache_root=cache.root.parent, progress=False, log=lambda *_: None)
    at = run_page(run)
    assert not at.exception, [e.message for e in at.exception]
    body = texts(at)
    assert "**Grad-CAM**:" in body and "for a random order" in body
    assert any("no cue annotations" in i.value for i in at.info)  # the tiny run has no ground truth
    table = cache.reliability()
    assert np.isfinite(table[table["check"] == "faithfulness"]["value"]).all()


# ------------------------------------------------------------------ concepts
CONCEPT_CURVES = {"tokyo": ([0.8, 0.4, 0.2], [0.8, 0.7, 0.6]), "paris": ([0.6, 0.5, 0.45], [0.6, 0.66, 0.7])}


def write_concept_curves(cache: RunCache) -> None:
    """Two cities, two concepts; tokyo's ranked order (validation effects): concept 1, then 0."""
    rows = []
    for city, (ranked, random) in CONCEPT_CURVES.items():
        for order, ps in (("ranked", ranked), ("random", random)):
            for step, p in enumerate(ps):
                for curve, v in (("deletion", p), ("insertion", 1 - p)):
                    rows.append({"target": city, "curve": curve, "order": order, "step": step,
                                 "fraction": step / 2, "p": v, "images": 5})
    cache.write_table("concept_curves", pd.DataFrame(rows))
    eff = cache.table("concept_effects")
    eff.loc[(eff["split"] == "val") & (eff["target"] == "tokyo"), "effect"] = \
        eff.loc[(eff["split"] == "val") & (eff["target"] == "tokyo"), "concept"].map({1: 0.5}).fillna(0.0)
    cache.write_table("concept_effects", eff)


def charts(at: AppTest) -> dict[str, dict]:
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def test_concept_deletion_numbers_per_city(rel_env):
    run, cache = rel_env
    write_concept_curves(cache)
    concept_views.name_concept(cache, 1, "<b>x</b>")
    at = run_page(run)
    assert not at.exception, [e.message for e in at.exception]
    # trapezoids, dx = 1/2: ranked tokyo 0.45, paris 0.5125; random tokyo 0.7, paris 0.655;
    # the mean over the cities: ranked 0.48125, random 0.6775, ratio 0.7103
    body = texts(at)
    assert ("**all cities (mean)**: deletion AUC **0.48** in order of effect vs **0.68** in random order — "
            "ratio **0.71**") in body
    table = next(d.value for d in at.dataframe if "AUC ranked" in d.value.columns).set_index("city")
    assert table.loc["tokyo", ["AUC ranked", "AUC random", "drop, top 3"]].tolist() == pytest.approx([0.45, 0.7, 0.6])
    assert table.loc["paris", "drop ratio"] == "–"  # 3 random concepts raise paris: no ratio
    assert table.loc["tokyo", "drop ratio"] == "3.00"  # 0.6 / 0.2
    fig = charts(at)["rel_concept_del"]
    ranked = next(t for t in fig["data"] if t["name"].startswith("most effective first"))
    assert ranked["y"] == pytest.approx([0.7, 0.45, 0.325])
    at.selectbox(key="rel_concept_city").set_value("tokyo").run()
    assert not at.exception
    assert "**tokyo**: deletion AUC **0.45** in order of effect vs **0.70** in random order" in texts(at)
    fig = charts(at)["rel_concept_del"]
    ranked = next(t for t in fig["data"] if t["name"].startswith("most effective first"))
    assert ranked["y"] == pytest.approx([0.8, 0.4, 0.2]) and ranked["name"] == "most effective first (AUC 0.45)"
    # removed first: concept 1 (the largest validation effect on tokyo), its name as typed
    assert ranked["customdata"][1] == "1 removed, last: &lt;b&gt;x&lt;/b&gt;"
    ins = charts(at)["rel_concept_ins"]
    assert next(t for t in ins["data"] if t["name"].startswith("most effective"))["y"] == pytest.approx([0.2, 0.6, 0.8])


def test_real_concept_curves_render(rel_env):
    run, cache = rel_env
    at = run_page(run)
    summary = concept_views.deletion_summary(cache.table("concept_curves"))
    table = next(d.value for d in at.dataframe if "AUC ranked" in d.value.columns)
    assert table["city"].tolist() == summary["target"].tolist()
    assert table["AUC ranked"].tolist() == pytest.approx(summary["auc_ranked"].round(2).tolist())


def test_sweep_hint_then_chart_with_the_recommendation(rel_env):
    run, cache = rel_env
    at = run_page(run)
    assert any(f"No sweep yet: run `streetlens concepts sweep {run.name}`" in i.value for i in at.info)
    assert "rel_sweep" not in charts(at)
    reason = "block3 with k=4: its concepts keep 95% of the accuracy"
    cache.write_table("concept_sweep", pd.DataFrame({
        "layer": ["block2", "block2", "block3", "block3"], "k": [2, 4, 2, 4], "channels": [16] * 4,
        "relative_error": [0.5, 0.4, 0.6, 0.45], "stable_share": [1.0, 0.5, 1.0, 0.75], "accuracy": [0.9] * 4,
        "concept_accuracy": [0.5, 0.6, 0.7, 0.855], "completeness": [0.55, 0.66, 0.77, 0.95],
        "negative_fraction": [0.0] * 4, "recommended": [False, False, False, True],
        "reason": ["", "", "", reason]}))
    at = run_page(run)
    assert not at.exception, [e.message for e in at.exception]
    assert any(s.value == f"**Recommended:** {reason}." for s in at.success)
    fig = charts(at)["rel_sweep"]
    rec = [t for t in fig["data"] if t["name"] == "recommended"]
    assert [(t["x"], t["y"]) for t in rec] == [([4], [0.45]), ([4], [0.75]), ([4], [0.95])]
    assert sorted(s["y0"] for s in fig["layout"]["shapes"]) == [MIN_STABLE, MIN_COMPLETENESS]
    table = next(d.value for d in at.dataframe if "stable concepts" in d.value.columns)
    assert table["recommended"].tolist() == [False, False, False, True]
