"""Trust badge: the text per method from a reliability table, the 'not checked yet'
line, nothing for views the checks do not cover, and the rendered caption."""
from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.explain.reliability.sampling import long_form
from analysis.store import RunCache
from dashboard import trust


def small_table() -> pd.DataFrame:
    rows = []
    for m, rho, dele in (("gradcam", 0.12, 0.21), ("guided_backprop", 0.85, 0.44)):
        rows += [dict(check="randomization", metric="rank_corr_abs", method=m, mode="cascade", step=0,
                      layer="original", value=1.0, n=8),
                 dict(check="randomization", metric="rank_corr_abs", method=m, mode="cascade", step=3,
                      layer="trunk.block3", milestone="last_block", value=rho, n=8),
                 dict(check="faithfulness", metric="deletion_auc", method=m, value=dele, n=8),
                 dict(check="faithfulness", metric="deletion_auc_diff", method=m, value=dele - 0.43, n=8)]
    rows.append(dict(check="faithfulness", metric="deletion_auc", method="random", value=0.43, n=8))
    return pd.concat([long_form(pd.DataFrame([r]), r["check"]) for r in rows], ignore_index=True)


@pytest.fixture
def cache_dir(tmp_path):
    RunCache(tmp_path).write_table("reliability", small_table())
    return tmp_path


def test_verdicts_and_badge_text(cache_dir, tmp_path_factory):
    found = trust.verdicts(cache_dir)
    assert set(found) == {"gradcam", "guided_backprop"}
    assert trust.badge_text("gradcam", found) == ":green[:material/verified:] Grad-CAM: passes randomisation · deletion AUC 0.21 vs 0.43 random"
    assert trust.badge_text("Grad-CAM", found) == trust.badge_text("gradcam", found)
    assert trust.badge_text("guided_backprop", found) == (
        ":red[:material/dangerous:] Guided backprop: FAILS randomisation · deletion AUC 0.44 vs 0.43 random")
    assert trust.badge_text("integrated_gradients", found, "demo-run") == (
        ":gray[:material/help:] not checked yet: run `streetlens reliability demo-run`")
    assert trust.badge_text("concepts", found) is None and trust.badge_text("neuron_groups", found) is None
    assert trust.verdicts(tmp_path_factory.mktemp("empty")) == {}


def test_canonical_names():
    assert trust.canonical("Guided Grad-CAM") == "guided_gradcam"
    assert trust.canonical("Integrated gradients") == "integrated_gradients"
    assert trust.canonical("Gradient (saliency)") == "gradient"
    assert trust.canonical("gradcam_captum") == "gradcam"


def _page(method):
    from dashboard import trust

    trust.badge(method)


@pytest.mark.parametrize("checked", [True, False])
def test_badge_renders_for_the_run_in_the_url(dashboard_env, tmp_path, monkeypatch, checked):
    run, cache = dashboard_env
    root = tmp_path / "cache"
    (root / run.name).mkdir(parents=True)
    copy = RunCache.for_run(run.name, root)
    copy.manifest = dict(cache.manifest)
    copy.save_manifest()
    if checked:
        RunCache(root / run.name).write_table("reliability", small_table())
    monkeypatch.setenv("STREETLENS_CACHE", str(root))
    at = AppTest.from_function(_page, args=("gradcam",), default_timeout=60)
    at.query_params["run"] = run.name
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    caption = " ".join(c.value for c in at.caption)
    if checked:
        assert caption.startswith(":green[:material/verified:] Grad-CAM: passes randomisation · deletion AUC 0.21 vs 0.43 random")
    else:
        assert caption == f":gray[:material/help:] not checked yet: run `streetlens reliability {run.name}`"


def test_badge_with_selection(dashboard_env, cache_dir):
    run, _ = dashboard_env

    def page(cache_path, run_name):
        from types import SimpleNamespace

        from analysis.store import RunCache
        from dashboard import trust

        sel = SimpleNamespace(run=SimpleNamespace(name=run_name), cache=RunCache(cache_path))
        trust.badge("guided_backprop", sel)
        trust.badge("concepts", sel)

    at = AppTest.from_function(page, args=(str(cache_dir), run.name), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [c.value.split("  ·  ")[0] for c in at.caption] == [
        ":red[:material/dangerous:] Guided backprop: FAILS randomisation · deletion AUC 0.44 vs 0.43 random"]
