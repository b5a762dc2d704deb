"""Deletion/insertion on a hand-made model whose evidence is known exactly: the city
probability rises with the brightness of one box, so removing the box first is optimal."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from analysis.explain.reliability import faithfulness as fa
from analysis.explain.targets import Target

H = W = 32
BOX = (slice(8, 16), slice(12, 20))  # 64 of 1024 pixels


class BoxModel(nn.Module):
    """City logits (2): [8·mean(channel 0 in BOX) − 4, 0]; group logits: one zero."""

    def forward(self, x):
        s = x[:, 0, BOX[0], BOX[1]].mean((1, 2))
        return torch.stack([8 * s - 4, torch.zeros_like(s)], 1), torch.zeros(len(x), 1)


def images(n=4):
    x = torch.zeros(n, 3, H, W)
    x[:, 0, BOX[0], BOX[1]] = 1.0
    return x


def box_map(n=4, inverse=False, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.random((n, H, W)) * 0.1  # noise below the box's level, to order the rest
    m[:, BOX[0], BOX[1]] += 1.0
    return -m if inverse else m


@pytest.fixture(scope="module")
def result():
    x = images()
    maps = {"perfect": box_map(), "random_map": np.random.default_rng(5).random((4, H, W)),
            "inverse": box_map(inverse=True)}
    curves = fa.perturbation_curves(BoxModel(), x, Target("city", [0] * 4), maps, steps=20, baseline="mean",
                                    random_orders=3, seed=0, batch_size=16)
    metrics, mean_curves = fa.summarize(curves)
    auc = metrics.set_index(["metric", "method"])["value"]
    return curves, metrics, mean_curves, auc


def test_perfect_map_gives_the_best_deletion_and_insertion(result):
    _, _, _, auc = result
    dele = auc.loc["deletion_auc"]
    ins = auc.loc["insertion_auc"]
    assert dele["perfect"] == dele.min() and dele["perfect"] < dele["random"] - 0.3
    assert ins["perfect"] == ins.max() and ins["perfect"] > ins["random"] + 0.3
    assert dele["inverse"] == dele.max()


def test_random_map_scores_the_random_baseline(result):
    _, metrics, _, auc = result
    assert auc.loc["deletion_auc"]["random_map"] == pytest.approx(auc.loc["deletion_auc"]["random"], abs=0.05)
    assert auc.loc["insertion_auc"]["random_map"] == pytest.approx(auc.loc["insertion_auc"]["random"], abs=0.05)
    diff = metrics.set_index(["metric", "method"])["value"]
    assert diff.loc[("deletion_auc_diff", "perfect")] == pytest.approx(
        auc.loc["deletion_auc"]["perfect"] - auc.loc["deletion_auc"]["random"])


def test_curves_shape_and_endpoints(result):
    curves, _, mean_curves, _ = result
    p_full = torch.sigmoid(torch.tensor(4.0)).item()  # softmax of [4, 0]
    p_base = torch.sigmoid(torch.tensor(8 * 64 / 1024 - 4.0)).item()  # mean colour everywhere
    d = curves[(curves["kind"] == "deletion") & (curves["method"] == "perfect") & (curves["image"] == 0)]
    assert list(d["step"]) == list(range(21)) and d["fraction"].iat[-1] == 1.0
    assert d["prob"].iat[0] == pytest.approx(p_full, abs=1e-6) and d["prob"].iat[-1] == pytest.approx(p_base, abs=1e-6)
    i = curves[(curves["kind"] == "insertion") & (curves["method"] == "perfect") & (curves["image"] == 0)]
    assert i["prob"].iat[0] == pytest.approx(p_base, abs=1e-6) and i["prob"].iat[-1] == pytest.approx(p_full, abs=1e-6)
    # 64 box pixels = 6.25 %: the first deletion step (5 %) takes 51 of them
    assert d["prob"].iat[1] == pytest.approx(torch.sigmoid(torch.tensor(8 * (13 + 51 * 0.0625) / 64 - 4)).item(),
                                             abs=1e-5)
    assert set(mean_curves["method"]) == {"perfect", "random_map", "inverse", "random"}
    assert (mean_curves["n"] == 4).all()


def test_batched_equals_one_at_a_time():
    x = images(2)
    maps = {"perfect": box_map(2)}
    a = fa.perturbation_curves(BoxModel(), x, Target("city", [0, 0]), maps, steps=5, baseline="mean", random_orders=1,
                               batch_size=3)
    b = fa.perturbation_curves(BoxModel(), x, Target("city", [0, 0]), maps, steps=5, baseline="mean", random_orders=1,
                               batch_size=1000)
    assert np.allclose(a["prob"], b["prob"], atol=1e-6)


def test_auc_and_steps():
    f = np.linspace(0, 1, 11)
    assert fa.auc(f, np.full(11, 0.3)) == pytest.approx(0.3)
    assert fa.auc(f, 1 - f) == pytest.approx(0.5)
    assert list(fa.step_counts(100, 4)) == [0, 25, 50, 75, 100]


def test_perturbed_takes_exactly_the_top_pixels():
    x, base = torch.ones(3, 4, 5), torch.zeros(3, 4, 5)
    rank = np.arange(20)[::-1].copy()  # the last pixel goes first
    dele = fa.perturbed(x, base, rank, steps=4, kind="deletion")
    ins = fa.perturbed(x, base, rank, steps=4, kind="insertion")
    assert dele.shape == (3, 3, 4, 5)
    assert [int((dele[k, 0] == 0).sum()) for k in range(3)] == [5, 10, 15]
    assert bool(dele[0, 0].flatten()[-5:].eq(0).all())
    assert torch.equal(ins, 1 - dele)


def test_pixel_rank_orders_highest_first_ties_random():
    rng = np.random.default_rng(0)
    score = np.array([[0.0, 5.0], [0.0, 0.0]])
    rank = fa.pixel_rank(score, rng)
    assert rank[1] == 0 and sorted(rank) == [0, 1, 2, 3]
    ranks = {tuple(fa.pixel_rank(score, np.random.default_rng(s))) for s in range(20)}
    assert len(ranks) > 1  # ties broken differently by different seeds


def test_baselines():
    x = torch.randn(2, 3, 40, 40)
    m = fa.baseline_image(x, "mean")
    assert torch.allclose(m[:, :, 0, 0], x.mean((2, 3)))
    flat = torch.full((1, 3, 40, 40), 0.7)
    assert torch.allclose(fa.baseline_image(flat, "blur"), flat, atol=1e-5)
    blurred = fa.baseline_image(x, "blur")
    assert blurred.shape == x.shape and blurred.std() < x.std() / 2
    with pytest.raises(ValueError, match="baseline"):
        fa.baseline_image(x, "black")
    with pytest.raises(ValueError, match="maps have shape"):
        fa.perturbation_curves(BoxModel(), images(1), Target("city", [0]), {"m": np.zeros((1, 3, 3))})
