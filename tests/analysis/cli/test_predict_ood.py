"""`streetlens predict` warns above the prediction of a photo unlike any training photo
(the run's calibrated out-of-distribution check), and says once how to get the check
when the run's cache has none. Oracles: the forward stage's own feature code
(``all_class_cams``) with a numpy cosine k-nearest-neighbour search, and the cached
neighbour distances of a training image."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from analysis.cli import main
from analysis.data.images import load_clean
from analysis.explain.gradcam import all_class_cams
from analysis.precompute.ood_check import load_ood_check, predict_with_ood
from analysis.precompute.stages.ood import load_calibration
from analysis.train.predict import predict_files
from analysis.train.runs import load_model


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def photos(tmp_path, tiny_dataset, analysed_run):
    """A noise picture, a flat grey one and a copy of a training image (the one with the
    median distance to the other training images), as files."""
    _, cache, _ = analysed_run
    rng = np.random.default_rng(0)
    noise, grey = tmp_path / "noise.png", tmp_path / "grey.png"
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(noise)
    Image.new("RGB", (40, 40), (128, 128, 128)).save(grey)
    samples = cache.samples().merge(cache.table("ood"), on="row")
    train = samples[samples["split"] == "train"].sort_values("score", kind="stable")
    row = train.iloc[len(train) // 2]
    copy = tmp_path / f"train_copy{tiny_dataset.image_path(row['path']).suffix}"
    shutil.copy(tiny_dataset.image_path(row["path"]), copy)
    return {"noise": noise, "grey": grey, "train": copy, "train_row": int(row["row"])}


def oracle_score(run, cache, path, k: int) -> float:
    """Mean cosine distance of the file's pooled features (the forward stage's
    ``all_class_cams``) to its k nearest training images (numpy)."""
    model = load_model(run)
    x = run.eval_transform()(load_clean(path, min_side=16).image).unsqueeze(0)
    with torch.no_grad():
        q = all_class_cams(model, x).pooled[0].double().numpy()
    samples = cache.samples()
    feats = np.asarray(cache.features(), np.float64)[samples["split"].to_numpy() == "train"]
    dist = 1.0 - feats @ q / (np.linalg.norm(feats, axis=1) * np.linalg.norm(q))
    return float(np.sort(dist)[:k].mean())


def test_unusual_photos_get_a_warning_above_their_prediction_and_a_training_image_none(
        analysed_run, photos):
    run, cache, roots = analysed_run
    cal = load_calibration(cache)
    res = cli("predict", run.name, photos["noise"], photos["train"], photos["grey"],
              "--models-root", roots["STREETLENS_MODELS"], "--cache-root", roots["STREETLENS_CACHE"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert not any(line.startswith("note:") for line in lines)
    for name in ("noise", "grey"):
        path = str(photos[name])
        i = lines.index(next(line for line in lines if line.startswith(f"{path}: ")))
        warning = lines[i - 1]
        s = oracle_score(run, cache, photos[name], cal.k)
        assert s > cal.threshold  # the fixture really puts these pictures outside
        assert warning.startswith(f"WARNING {path}: This photo looks unlike any training photo: ")
        assert f"its {cal.k} nearest training photos are {s:.2f} away" in warning
        assert f"above the {cal.threshold:.2f} threshold" in warning
    train = str(photos["train"])
    assert sum(train in line for line in lines) == 1  # its prediction, no warning
    assert sum(line.startswith("WARNING") for line in lines) == 2
    # the predictions themselves are those of `predict_files`
    plain = predict_files(run, [photos["noise"], photos["train"], photos["grey"]])
    for row in plain.to_dict("records"):
        assert f"{row['file']}: {row['city']} ({row['p']:.2f}), {row['group']} ({row['p_group']:.2f})" \
            f"  top: {row['top']}" in lines


def test_scores_and_flags_from_python(analysed_run, photos):
    run, cache, roots = analysed_run
    cal = load_calibration(cache)
    result = predict_with_ood(run, [photos["train"], photos["noise"], photos["grey"] / "missing.png"],
                              cache_root=roots["STREETLENS_CACHE"])
    assert result.note is None
    t = result.table
    assert "pooled" not in t
    # a copy of a training image is its own nearest neighbour (distance 0); the other k − 1
    # are its cached nearest training neighbours
    d = np.asarray(cache.neighbor_dist(), np.float64)[photos["train_row"]]
    assert t.loc[0, "ood_score"] == pytest.approx(d[:cal.k - 1].sum() / cal.k, abs=2e-6)
    assert t.loc[1, "ood_score"] == pytest.approx(oracle_score(run, cache, photos["noise"], cal.k), abs=2e-6)
    assert t["ood_flagged"].tolist()[:2] == [False, True]
    assert (t["ood_threshold"] == cal.threshold).all()
    assert t.loc[0, "ood_message"].startswith("Like the training photos")
    assert isinstance(t.loc[2, "error"], str) and t["ood_flagged"].isna().tolist() == [False, False, True]


def test_without_calibration_one_note_and_still_a_prediction(analysed_run, photos, tmp_path):
    run, _, roots = analysed_run
    res = cli("predict", run.name, photos["noise"], photos["grey"],
              "--models-root", roots["STREETLENS_MODELS"], "--cache-root", tmp_path / "no_cache")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == (f"note: No out-of-distribution check for run {run.name} yet: compute it with "
                        f"`streetlens analyze {run.name} --stages ood` to be warned about photos "
                        "unlike the training ones.")
    assert len(lines) == 3 and not any("WARNING" in line for line in lines)
    assert lines[1].startswith(f"{photos['noise']}: ") and lines[2].startswith(f"{photos['grey']}: ")


def test_an_analysis_of_another_model_file_gives_no_check(analysed_run, tmp_path):
    from analysis.store import RunCache

    run, cache, _ = analysed_run
    copy = RunCache.for_run(run.name, tmp_path / "cache")
    copy.root.mkdir(parents=True)
    for path in (cache.manifest_path, *(cache.path(a) for a in ("samples", "features", "ood_calibration"))):
        (shutil.copytree if path.is_dir() else shutil.copy)(path, copy.root / path.name)
    check, note = load_ood_check(RunCache.for_run(run.name, tmp_path / "cache"), run)
    assert check is not None and note is None
    manifest = json.loads(copy.manifest_path.read_text())
    copy.manifest_path.write_text(json.dumps({**manifest, "model_fingerprint": "0" * 16}))
    check, note = load_ood_check(RunCache.for_run(run.name, tmp_path / "cache"), run)
    assert check is None and f"`streetlens analyze {run.name} --stages ood`" in note and "\n" not in note
