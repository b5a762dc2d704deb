"""Reliability page against the analysed tiny run: the verdicts and numbers of a
hand-made reliability table are shown as written; without the checks the page says how
to run them; the real stage's output renders."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.explain.reliability.sampling import long_form
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
    assert len(at.get("plotly_chart")) == 5  # randomisation, deletion, insertion, pointing, per class


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
