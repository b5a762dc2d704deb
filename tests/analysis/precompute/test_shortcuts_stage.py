"""The shortcut finder on a demo with a planted shortcut: a corner stamp on every Tokyo
picture, which a small CNN learns; the finder must name Tokyo and that corner."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.precompute import AnalyzeConfig, analyze

SMALL = dict(batch_size=16, n_concepts=4, top_patches=4,
             extra={"stability_refits": 2, "stability_rows": 2000, "effect_bootstrap": 200})


@pytest.fixture(scope="module")
def stamped(tmp_path_factory):
    from analysis.data.dataset import Dataset
    from analysis.data.synth.stamp import Stamp
    from analysis.data.synthetic import synthesize_dataset
    from analysis.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("stamped")
    ds = Dataset(root / "demo")
    synthesize_dataset(ds, per_class=40, size=64, classes=["london", "paris", "tokyo"], progress=False,
                       stamp=Stamp("tokyo", "bottom-right", 0.25))
    run = train(TrainConfig(dataset=str(ds.root), backbone="tiny_cnn", mode="scratch", epochs=30, batch_size=8,
                            image_size=64, models_root=str(root / "models"), cache_root=str(root / "cache")),
                progress=False)
    cache = analyze(run.path, config=AnalyzeConfig(stages=("shortcuts",), **SMALL), cache_root=root / "analysis",
                    progress=False, log=lambda *_: None)
    return run, cache, root


def test_the_planted_stamp_is_found(stamped):
    _, cache, _ = stamped
    flags = cache.table("shortcut_flags")
    frame = flags[flags["kind"] == "frame"]
    tokyo = frame[frame["target"] == "tokyo"]
    assert len(tokyo) == 1, flags["text"].tolist()
    assert "bottom-right corner" in tokyo["text"].iat[0] or "bottom strip" in tokyo["text"].iat[0] \
        or "right strip" in tokyo["text"].iat[0]
    assert tokyo["link"].iat[0].startswith("sample?") and "true=tokyo" in tokyo["link"].iat[0]
    evidence = cache.table("frame_evidence").set_index(["target", "region"])
    assert evidence.loc[("tokyo", "bottom-right corner"), "share"] >= 0.5


def test_no_stamp_no_property_shortcut(stamped):
    _, cache, _ = stamped
    scores = cache.table("property_scores").iloc[0]  # all demo files are alike PNGs of one size
    assert scores["p_value"] > 0.01
    assert "properties" not in set(cache.table("shortcut_flags")["kind"])


def test_cli_shortcuts_prints_the_flags(stamped):
    run, _, root = stamped
    r = CliRunner().invoke(main, ["shortcuts", str(run.path), "--cache-root", str(root / "analysis")])
    assert r.exit_code == 0, r.output
    assert "! tokyo: the Grad-CAM of its own logit peaks in the" in r.output
    assert "file properties → city: balanced accuracy" in r.output
