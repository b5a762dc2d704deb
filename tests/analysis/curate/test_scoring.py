"""Curation scores computed with a network: the scoring pass, the scene classifier, model
disputes and ``streetlens data scores``.

No network and no Places365 weights here: the real pipeline (``compute_scores``, the CLI,
the cache, the ranking) runs on a stand-in 365-way scene classifier with fixed weights
whose "street" output responds to a known pattern — vertical edges (facades, poles) —
and whose "ocean" output responds to horizontal bands (a horizon). The real
wideresnet18 architecture is checked with random weights for shapes and hooks."""

from __future__ import annotations

import json
import shutil
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torch import nn

from analysis.cli import main
from analysis.curate import scene, scoring
from analysis.data import curation, review, scores
from analysis.data.dataset import Dataset
from analysis.data.importer import ImportOptions, import_folder
from analysis.nets.registry import get_backbone
from analysis.train.data import make_transform

torch.set_num_threads(1)

CATEGORIES = ["street", "alley", "ocean", "forest"] + [f"scene_{i}" for i in range(361)]
STREETISH = ("street", "alley")


def fake_places365() -> nn.Sequential:
    """Sequential(trunk, head) like ``build_original``: trunk = fixed Sobel filters on the
    grey image (|vertical edges|, |horizontal edges|), head = pool → fc with 365 outputs:
    street = 6·(v − h), alley = 3·(v − h), ocean = 6·(h − v), everything else −4."""
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 4
    conv = nn.Conv2d(3, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        for c in range(3):
            conv.weight[0, c] = sobel / 3  # responds to vertical edges
            conv.weight[1, c] = sobel.T / 3  # horizontal edges
    fc = nn.Linear(2, 365)
    with torch.no_grad():
        fc.weight.zero_()
        fc.bias.fill_(-4.0)
        fc.weight[0] = torch.tensor([6.0, -6.0])
        fc.weight[1] = torch.tensor([3.0, -3.0])
        fc.weight[2] = torch.tensor([-6.0, 6.0])
        fc.bias[:3] = 0.0
    trunk = nn.Sequential(OrderedDict(conv=conv, abs=Absolute()))
    head = nn.Sequential(OrderedDict(avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), fc=fc))
    return nn.Sequential(OrderedDict(trunk=trunk, head=head))


class Absolute(nn.Module):
    def forward(self, x):
        return x.abs()


class Counting(nn.Module):
    """Counts the images a model sees (to check that cached images are not rerun)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.seen = inner, 0

    def forward(self, x):
        self.seen += len(x)
        return self.inner(x)


def fake_scorer(model: nn.Module | None = None) -> scene.SceneScorer:
    spec = get_backbone("resnet18_places365")
    tf = make_transform(spec, "places365", "none", 64)  # the real preprocessing, small
    return scene.SceneScorer(model or fake_places365(), CATEGORIES, tf, name="fake_places365")


def _bands(rng, n: int) -> np.ndarray:
    """Random-width bands of random brightness along one axis (distinct pHashes)."""
    out = np.empty(n)
    i = 0
    while i < n:
        width = int(rng.integers(3, 12))
        out[i:i + width] = rng.integers(30, 220)
        i += width
    return out


def street_picture(seed: int, size=(96, 72)) -> Image.Image:
    """Vertical structure: facades, window columns, poles (plus noise)."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = np.repeat(_bands(rng, w)[None, :], h, 0)[..., None] * np.array([1.0, 0.95, 0.9])
    img[int(h * 0.8):] = rng.integers(60, 110)  # the road
    img += rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def other_picture(seed: int, size=(96, 72)) -> Image.Image:
    """Horizontal bands: sea and sky, a plate on a table, a painting's horizon."""
    rng = np.random.default_rng(seed + 7919)
    w, h = size
    img = np.repeat(_bands(rng, h)[:, None], w, 1)[..., None] * np.array([0.6, 0.8, 1.0])
    img += rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def build(tmp_path: Path, n_street=5, n_other=3, start=0, ds=None) -> Dataset:
    src = tmp_path / f"src{start}"
    for cls in ("tokyo", "paris"):
        (src / cls).mkdir(parents=True)
        for i in range(n_street):
            street_picture(start + i + (100 if cls == "paris" else 0)).save(src / cls / f"s{start + i}.png")
        for i in range(n_other):
            other_picture(start + i + (100 if cls == "paris" else 0)).save(src / cls / f"o{start + i}.png")
    ds = ds or Dataset(tmp_path / "data" / "streets")
    import_folder(src, ds, options=ImportOptions(workers=1, dup_threshold=1), progress=False)
    return ds


def kinds(ds: Dataset) -> dict[str, str]:
    t = ds.read()
    return {i: Path(s).name[0] for i, s in zip(t["id"], t["source"])}  # 's' or 'o'


def test_street_score_ranks_street_pictures_above_others(tmp_path):
    ds = build(tmp_path)
    report = scoring.compute_scores(ds, fake_scorer(), street_categories=STREETISH, progress=False)
    assert report.scored == 16 and report.cached == 0 and not report.failed
    df = scores.load_scores(ds).merge(ds.read()[["id", "class"]], on="id")
    df["kind"] = df["id"].map(kinds(ds))
    assert len(df) == 16
    for _, rows in df.groupby("class"):
        streets, others = rows[rows["kind"] == "s"], rows[rows["kind"] == "o"]
        assert streets["street"].min() > others["street"].max()
    assert (df.loc[df["kind"] == "s", "street"] > 0.5).all()
    assert (df.loc[df["kind"] == "o", "street"] < 0.1).all()
    assert set(df.loc[df["kind"] == "o", "scene"]) == {"ocean"}
    assert df["scene_top"].str.contains("street").all()
    attrs = scores.load_scores(ds).attrs
    assert attrs["street_categories"] == list(STREETISH) and attrs["model"] == "fake_places365"
    # the review order puts the non-street pictures first
    q = review.review_queue(ds.read(), scores.load_scores(ds), "tokyo", order="street", keep_groups=False)
    assert [kinds(ds)[i] for i in q["id"]] == ["o"] * 3 + ["s"] * 5
    # the odd ones out of a mostly-street class are also the outliers
    q = review.review_queue(ds.read(), scores.load_scores(ds), "tokyo", order="outlier", keep_groups=False)
    assert [kinds(ds)[i] for i in q["id"]][:3] == ["o"] * 3


def test_scores_are_incremental_and_rederived_without_inference(tmp_path):
    ds = build(tmp_path, n_street=3, n_other=1)
    counting = Counting(fake_places365())
    scorer = fake_scorer(counting)
    scoring.compute_scores(ds, scorer, street_categories=STREETISH, progress=False, batch_size=3)
    assert counting.seen == 8
    again = scoring.compute_scores(ds, scorer, street_categories=STREETISH, progress=False)
    assert counting.seen == 8 and again.scored == 0 and again.cached == 8
    build(tmp_path, n_street=2, n_other=1, start=50, ds=ds)  # new images arrive
    assert len(scores.missing_ids(ds)) == 6
    third = scoring.compute_scores(ds, scorer, street_categories=STREETISH, progress=False)
    assert third.scored == 6 and counting.seen == 14 and scores.missing_ids(ds) == []
    # other street categories: the street score changes, no image is run again
    before = scores.load_scores(ds).set_index("id")["street"]
    scores.rescore(ds, street_categories=("ocean",))
    after = scores.load_scores(ds).set_index("id")["street"]
    assert counting.seen == 14 and not np.allclose(before.sort_index(), after.sort_index())
    assert scores.load_scores(ds).attrs["street_categories"] == ["ocean"]
    # a different model invalidates the cache
    other = scene.SceneScorer(Counting(fake_places365()), CATEGORIES, scorer.transform, name="other")
    rep = scoring.compute_scores(ds, other, street_categories=STREETISH, progress=False)
    assert rep.scored == 14


def test_scoring_saves_as_it_goes_and_resumes(tmp_path):
    ds = build(tmp_path, n_street=3, n_other=1)

    class Boom(Exception):
        pass

    class Failing(Counting):
        def forward(self, x):
            if self.seen >= 4:
                raise Boom()
            return super().forward(x)

    failing = Failing(fake_places365())
    with pytest.raises(Boom):
        scoring.compute_scores(ds, fake_scorer(failing), street_categories=STREETISH, progress=False,
                              batch_size=2, save_every=2)
    arrays = scores.ScoreArrays.load(ds.files.score_arrays)
    assert len(arrays.ids) == 4  # what was done is kept
    counting = Counting(fake_places365())
    scoring.compute_scores(ds, fake_scorer(counting), street_categories=STREETISH, progress=False)
    assert counting.seen == 4 and len(scores.load_scores(ds)) == 8


def test_scorer_removes_hooks_and_restores_mode():
    model = fake_places365().train()
    scorer = fake_scorer(model)
    probs, feats = scorer([street_picture(1), other_picture(2)])
    assert probs.shape == (2, 365) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert feats.shape == (2, 2)  # the input of the last Linear: pooled features
    assert model.training
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in model.modules())
    # a named feature layer with a 4-D output is average-pooled
    named = scene.SceneScorer(model, CATEGORIES, scorer.transform, feature_layer="trunk.abs")
    _, f2 = named([street_picture(1)])
    assert np.allclose(f2, feats[:1], atol=1e-5)
    wrong = scene.SceneScorer(model, CATEGORIES[:10], scorer.transform)
    with pytest.raises(ValueError, match="365"):
        wrong([street_picture(1)])


def test_real_wideresnet18_architecture_with_random_weights():
    """The production scorer: CSAIL wideresnet18 + its 365-way head (random weights
    here; the Places365 file is not needed), pooled 512-d features."""
    torch.manual_seed(0)
    scorer = scene.places365_scorer(weights="random", categories=CATEGORIES, image_size=64)
    probs, feats = scorer([street_picture(1), other_picture(1)])
    assert probs.shape == (2, 365) and feats.shape == (2, 512)
    assert np.allclose(probs.sum(1), 1, atol=1e-4)
    assert scorer.name == "resnet18_places365/random"


def test_disputes_from_a_trained_run(tmp_path, tiny_dataset, tiny_run):
    ds = Dataset(tmp_path / "copy")
    shutil.copytree(tiny_dataset.root, ds.root)  # the session fixture stays untouched
    table = ds.read()
    from analysis.train.data import load_rgb
    from analysis.train.predict import predict_images

    pc, _ = predict_images(tiny_run, [load_rgb(ds.image_path(p)) for p in table["path"]])
    classes = list(tiny_run.labels.classes)
    pred = [classes[i] for i in pc.argmax(1)]
    sure = [k for k in np.argsort(-pc.max(1).values.numpy()) if pred[k] == table["class"].iat[k]]
    assert sure, "the tiny run should get some images right"
    moved, old_cls = table["id"].iat[sure[0]], table["class"].iat[sure[0]]
    curation.decide(ds, [moved], cls=next(c for c in classes if c != old_cls))
    scorer = scene.SceneScorer(fake_places365(), CATEGORIES,
                                make_transform(get_backbone("resnet18_places365"), "places365", "none", 40),
                                name="fake")
    rep = scoring.compute_scores(ds, scorer, street_categories=STREETISH, run=tiny_run.path,
                                progress=False)
    assert "predicted by" in rep.disputes_from
    df = scores.load_scores(ds).set_index("id")
    assert df["dispute"].notna().all() and df["pred_class"].notna().all()
    assert df.at[moved, "pred_class"] == old_cls  # the model still sees its old class
    assert df.at[moved, "dispute"] > 0
    assert df.attrs["dispute_run"] == tiny_run.name
    # a rescore (no --run) keeps the disputes
    scores.rescore(ds)
    assert scores.load_scores(ds)["dispute"].notna().all()


def test_cli_scores(tmp_path, monkeypatch):
    ds = build(tmp_path, n_street=2, n_other=1)
    monkeypatch.setattr(scene, "places365_scorer", lambda **kw: fake_scorer())
    progress = tmp_path / "job-progress"  # as a background job writes it
    res = CliRunner().invoke(main, ["--progress-file", str(progress), "data", "scores", "--dataset",
                                    str(ds.root), "--device", "cpu", "--street-categories", "street,alley",
                                    "--no-progress-bar"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "6 images scored with fake_places365" in res.output and "class centre tokyo" in res.output
    assert json.loads(progress.read_text())["state"] == "done"
    res = CliRunner().invoke(main, ["--progress-file", str(progress), "data", "scores", "--dataset",
                                    str(ds.root), "--device", "cpu", "--street-categories", "street,bakery"])
    assert res.exit_code == 1 and "bakery" in res.output
    done = json.loads(progress.read_text())
    assert done["state"] == "failed" and "bakery" in done["message"]
    res = CliRunner().invoke(main, ["data", "curate", "--dataset", str(ds.root), "--reject-below", "0.1"])
    assert res.exit_code == 0 and "rejected 2 image(s)" in res.output, res.output


def test_disputes_from_the_analysis_cache(analysed_run, tmp_path):
    """``streetlens data scores --run RUN`` reads a run's analysis (its samples table)
    when there is one, and uses the current label for images relabelled since."""
    import shutil

    run, cache, _ = analysed_run
    src = Dataset(Path(run.info["dataset"]["path"]))
    ds = Dataset(tmp_path / "copy")
    shutil.copytree(src.root, ds.root)
    table = ds.read()
    samples = cache.table("samples")
    right = samples[samples["correct"]].sort_values("p_pred", ascending=False)
    assert len(right), "the tiny run gets some images right"
    moved = str(right["id"].iat[0])
    old = right["class"].iat[0]
    curation.decide(ds, [moved], cls=next(c for c in run.labels.classes if c != old))
    disputes, source = scoring.run_disputes(run.path, ds, ds.read(), cache_root=cache.root.parent,
                                           progress=False)
    assert f"{len(table)} from the analysis cache" in source and "predicted" not in source
    d = disputes.set_index("id")
    assert d.at[moved, "pred_class"] == old and d.at[moved, "dispute"] > 0
    correct = set(samples.loc[samples["correct"], "id"].astype(str)) - {moved}
    assert (d.loc[sorted(correct), "dispute"] == 0).all()  # agreement is no dispute
    wrong = set(samples.loc[~samples["correct"], "id"].astype(str)) - {moved}
    assert (d.loc[sorted(wrong), "dispute"] >= 0).all()


