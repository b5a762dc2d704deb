"""Randomisation check: the similarity measures against scipy/skimage, the schedules, and
on a tiny trained model that randomising the weights changes Grad-CAM."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

from analysis.explain.randomize import cascade_order
from analysis.explain.reliability import randomization as ra
from analysis.explain.reliability.maps import MapSettings, compute_maps
from analysis.explain.scaling import to_display
from analysis.explain.targets import Target
from analysis.train.runs import load_model


def test_rank_correlation_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 10))
    b = a + rng.normal(scale=0.7, size=a.shape)
    a[a < 0] = 0  # many ties, as in a ReLU'd Grad-CAM
    expected = spearmanr(a.ravel(), b.ravel()).statistic
    assert ra.rank_correlation(a, b) == pytest.approx(expected)
    ref = ra.Reference(a, signed=True)
    got = ref.compare(b)
    assert got["rank_corr_signed"] == pytest.approx(expected, abs=1e-12)
    assert got["rank_corr_abs"] == pytest.approx(spearmanr(np.abs(a).ravel(), np.abs(b).ravel()).statistic)
    assert np.isnan(ra.Reference(a, signed=False).compare(b)["rank_corr_signed"])  # unsigned methods


def test_constant_maps():
    a = np.arange(16.0).reshape(4, 4)
    assert np.isnan(ra.rank_correlation(np.zeros((4, 4)), a))  # no ranking to compare with
    assert ra.rank_correlation(a, np.zeros((4, 4))) == 0.0  # the ranking is gone
    assert ra.Reference(a, True).compare(np.ones((4, 4)))["rank_corr_abs"] == 0.0
    assert ra.rank_correlation(a, a) == pytest.approx(1.0)
    assert ra.rank_correlation(a, -a) == pytest.approx(-1.0)


def test_ssim_is_skimage_on_display_maps():
    rng = np.random.default_rng(1)
    a, b = rng.random((32, 32)), rng.random((32, 32))
    da = to_display(torch.tensor(a, dtype=torch.float32)).numpy().astype(np.float64)
    db = to_display(torch.tensor(b, dtype=torch.float32)).numpy().astype(np.float64)
    assert ra.map_ssim(a, b) == pytest.approx(structural_similarity(da, db, data_range=1.0))
    assert ra.map_ssim(a, a) == pytest.approx(1.0)
    spiky = np.zeros((40, 40)); spiky[3, 4] = 50.0; spiky[10:20, 10:20] = rng.random((10, 10))
    for m in (a, spiky, -spiky, np.zeros((8, 8))):  # the numpy display scaling is to_display's
        expected = to_display(torch.tensor(m, dtype=torch.float32)).numpy()
        assert np.allclose(ra._display(m), expected, atol=1e-6)
    assert ra.similarities(a, a, True) == pytest.approx({"rank_corr_abs": 1.0, "rank_corr_signed": 1.0,
                                                         "ssim": 1.0})


@pytest.fixture(scope="module")
def tiny(tiny_run, tiny_dataset):
    from analysis.train.data import load_rgb, make_transform

    model = load_model(tiny_run)
    rows = tiny_dataset.usable().head(6)
    tf = make_transform(tiny_run.spec, tiny_run.weights, "none", tiny_run.info["backbone"]["input_size"])
    x = torch.stack([tf(load_rgb(tiny_dataset.image_path(p))) for p in rows["path"]])
    y, _ = tiny_run.labels.encode(rows)
    return model, x, Target("city", [int(v) for v in y]), tiny_run


def test_schedules(tiny):
    model = tiny[0]
    order = cascade_order(model)
    groups = ra.layer_groups(model)
    assert groups[0] == ("logits", ("class_out", "group_out"))
    assert [g[0] for g in groups[1:]] == [n for n in order if n not in ("class_out", "group_out")]
    cas, ind = ra.randomization_steps(model, "cascade"), ra.randomization_steps(model, "independent")
    assert [s.step for s in cas] == list(range(1, len(groups) + 1))
    assert cas[-1].layers == tuple(order[:2]) + tuple(order[2:])  # everything, logits first
    assert all(len(s.layers) == len(g[1]) for s, g in zip(ind, groups))
    ms = ra.milestone_steps(model, ("block3",))
    assert ms["logits"] == 1 and ms["all"] == len(groups)
    assert groups[ms["last_block"] - 1][0] == "trunk.block3" and groups[ms["head"] - 1][0] == "shared.0"
    with pytest.raises(ValueError, match="mode"):
        ra.randomization_steps(model, "sideways")


def test_randomisation_changes_gradcam(tiny):
    model, x, target, run = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    settings = MapSettings(target_layer=run.spec.target_layer)
    per = ra.randomization_test(model, x, target, ["gradcam", "guided_backprop"], settings, seed=0)
    for k, v in model.state_dict().items():  # the trained model is untouched
        assert torch.equal(v, before[k]), k
    out = ra.summarize(per, ra.milestone_steps(model, run.spec.last_block))
    g = out[(out["method"] == "gradcam") & (out["mode"] == "cascade") & (out["metric"] == "rank_corr_abs")]
    g = g.set_index("step")["value"]
    assert g.loc[0] == 1.0
    assert g.loc[g.index.max()] < 0.5 and g.loc[1:].max() < 0.99  # randomising changes Grad-CAM
    assert set(out["milestone"]) >= {"", "logits", "last_block", "all"}
    assert (out[out["step"] > 0]["n"] <= x.shape[0]).all()
    ssim = out[(out["method"] == "gradcam") & (out["metric"] == "ssim") & (out["step"] == g.index.max())]
    assert ssim["value"].iat[0] < 0.9


def test_step_maps_are_the_randomised_copy(tiny):
    """The per-step maps are those of randomized_copy with the same layers and seed."""
    from analysis.explain.randomize import randomized_copy

    model, x, target, run = tiny
    settings = MapSettings(target_layer=run.spec.target_layer)
    step = ra.randomization_steps(model, "cascade")[2]
    first_two = Target("city", target.index[:2])
    per = ra.randomization_test(model, x[:2], first_two, ["gradient"], settings, seed=3, modes=("cascade",))
    orig = compute_maps(model, x[:2], first_two, ["gradient"], settings)["gradient"]
    rand = compute_maps(randomized_copy(model, list(step.layers), seed=3), x[:2], first_two,
                        ["gradient"], settings)["gradient"]
    row = per[(per["step"] == step.step) & (per["image"] == 1)]
    assert row["rank_corr_abs"].iat[0] == pytest.approx(ra.rank_correlation(np.abs(orig[1]), np.abs(rand[1])))


def test_norm_only_stages_join_their_conv():
    from collections import OrderedDict

    from torch import nn

    from analysis.nets.classifier import TwoHeadClassifier

    trunk = nn.Sequential(OrderedDict(conv1=nn.Conv2d(3, 4, 3), bn1=nn.BatchNorm2d(4), relu=nn.ReLU(),
                                      conv2=nn.Conv2d(4, 8, 3), bn2=nn.BatchNorm2d(8)))
    model = TwoHeadClassifier(trunk, 8, 3, 2, hidden=4)
    groups = ra.layer_groups(model)
    assert [g[0] for g in groups] == ["logits", "shared.0", "trunk.conv2+bn2", "trunk.conv1+bn1"]
    assert groups[2][1] == ("trunk.bn2", "trunk.conv2")
    assert ra.milestone_steps(model, ("bn2",))["last_block"] == 3
    cas = ra.randomization_steps(model, "cascade")
    assert set(cas[-1].layers) == {"class_out", "group_out", "shared.0", "trunk.bn2", "trunk.conv2",
                                   "trunk.bn1", "trunk.conv1"}
