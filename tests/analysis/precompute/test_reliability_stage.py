"""The reliability stage end to end: on the tiny run (no annotations) and on a tiny
procedural demo (annotated cues → pointing game), plus the CLI command."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.explain.reliability.sampling import choose_sample
from analysis.explain.reliability.verdict import verdicts_from_table
from analysis.precompute import AnalyzeConfig, all_stages, analyze, default_stages
from analysis.store import RunCache

SMALL = dict(reliability_images=4, reliability_ig_images=2, reliability_ig_steps=4, reliability_steps=5,
             reliability_random_orders=2, reliability_loc_images=6, batch_size=16)


def test_stage_is_registered_opt_in():
    stage = all_stages()["reliability"]
    assert "reliability" not in default_stages() and not stage.default
    assert set(stage.writes) == {"reliability", "reliability_curves"} and set(stage.reads) == {"samples", "cams"}
    params = {k: AnalyzeConfig().value(k) for k in stage.params}
    assert json.loads(json.dumps(params)) == params  # survives the manifest unchanged


def test_choose_sample_is_stratified_correct_and_seeded():
    df = pd.DataFrame({"row": range(12), "class": list("aaaabbbbcccc"), "split": ["test"] * 12,
                       "correct": [True, True, False, True] * 3})
    rows = choose_sample(df, 6, seed=0)
    assert len(rows) == 6 and df.set_index("row").loc[rows, "correct"].all()
    assert sorted(df.set_index("row").loc[rows, "class"]) == list("aabbcc")
    assert list(rows) == list(choose_sample(df, 6, seed=0))
    assert len(choose_sample(df, 50, seed=0)) == 9  # all correct ones, no more
    assert len(choose_sample(df, 50, seed=0, correct_only=False)) == 12


@pytest.fixture(scope="module")
def tiny_reliability(tiny_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("rel_cache")
    cache = analyze(tiny_run.path, config=AnalyzeConfig(stages=("reliability",), **SMALL),
                    cache_root=root, progress=False, log=lambda *_: None)
    return cache


def test_tiny_run_tables(tiny_reliability):
    cache = tiny_reliability
    table, curves = cache.reliability(), cache.reliability_curves()
    assert set(table["check"]) == {"randomization", "faithfulness"}  # no annotations: no localisation
    info = cache.manifest["stages"]["reliability"]
    assert "no cue annotations" in info["localization"]
    assert info["images"] == 4 and info["heavy_images"] == 2
    methods = {"gradcam", "gradient", "guided_backprop", "guided_gradcam", "integrated_gradients"}
    r = table[table["check"] == "randomization"]
    assert set(r["method"]) == methods and set(r["mode"]) == {"cascade", "independent"}
    assert set(r["metric"]) == {"rank_corr_abs", "rank_corr_signed", "ssim"}
    step0 = r[(r["step"] == 0) & (r["metric"] == "rank_corr_abs")]
    assert np.allclose(step0["value"], 1.0)
    assert r[r["method"] == "integrated_gradients"]["n"].max() == 2
    assert {"logits", "last_block", "all"} <= set(r["milestone"])
    f = table[table["check"] == "faithfulness"]
    assert set(f[f["metric"] == "deletion_auc"]["method"]) == methods | {"random"}
    assert f["value"].between(-1, 1).all()
    assert set(curves["kind"]) == {"deletion", "insertion"}
    assert curves.groupby(["kind", "method"]).size().eq(6).all()  # steps 0..5
    v = verdicts_from_table(table)
    assert list(v) == ["gradcam", "gradient", "guided_backprop", "guided_gradcam", "integrated_gradients"]
    assert all(x.randomization is not None and x.faithfulness is not None for x in v.values())


def test_rerun_is_cached(tiny_run, tiny_reliability):
    lines = []
    analyze(tiny_run.path, config=AnalyzeConfig(stages=("reliability",), **SMALL),
            cache_root=tiny_reliability.root.parent, progress=False, log=lines.append)
    assert any(line.startswith("reliability") and "cached" in line for line in lines)


def test_cli_reliability(tiny_run, tmp_path):
    from click.testing import CliRunner

    from analysis.cli import main

    res = CliRunner().invoke(main, ["reliability", str(tiny_run.path), "--cache-root", str(tmp_path),
                                    "--images", "2", "--ig-images", "1", "--ig-steps", "2", "--steps", "4",
                                    "--random-orders", "1", "--modes", "cascade",
                                    "--methods", "gradcam,gradient"])
    assert res.exit_code == 0, res.output
    assert "Grad-CAM" in res.output and "randomisation" in res.output
    table = RunCache.for_run(tiny_run.path.name, tmp_path).reliability()
    assert set(table["method"]) - {"random"} == {"gradcam", "gradient"}
    bad = CliRunner().invoke(main, ["reliability", str(tiny_run.path), "--cache-root", str(tmp_path),
                                    "--methods", "nonsense"])
    assert bad.exit_code == 1 and "unknown attribution method" in bad.output


def test_localization_on_annotated_demo(annotated_run):
    run, root = annotated_run
    cache = analyze(run.path, config=AnalyzeConfig(stages=("reliability",),
                                                   **{**SMALL, "reliability_modes": "cascade"}),
                    cache_root=root / "rel", progress=False, log=lambda *_: None)
    table = cache.reliability()
    loc = table[table["check"] == "localization"]
    samples = cache.samples()
    n_test = int((samples["split"] == "test").sum())
    g = loc[(loc["method"] == "gradcam") & (loc["subset"] == "all") & (loc["class"] == "all")]
    excluded = int(g[g["metric"] == "excluded"]["value"].iat[0])
    scored = int(g[g["metric"] == "pointing_game"]["n"].iat[0])
    assert scored + excluded == n_test  # Grad-CAM: every test image, from the cache
    assert set(loc["subset"]) == {"correct", "all"}
    assert set(loc["class"]) >= {"all"}
    others = loc[(loc["method"] == "gradient") & (loc["subset"] == "all") & (loc["class"] == "all")]
    assert int(others[others["metric"] == "excluded"]["n"].iat[0]) == 6
    pg = loc[loc["metric"] == "pointing_game"]["value"].dropna()
    assert pg.between(0, 1).all()
    chance = loc[loc["metric"] == "pointing_chance"]["value"].dropna()
    assert chance.between(0, 1).all()
