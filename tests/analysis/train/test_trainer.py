import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.svm import LinearSVC

from analysis.data.dataset import DatasetError
from analysis.nets.weight_sources import UntrustedCheckpointError
from analysis.train.data import load_rgb, make_transform
from analysis.train.predict import predict_images
from analysis.train.runs import comparison_table, list_runs, load_model, open_run
from analysis.train.svm import decision_weights
from analysis.train.trainer import TrainConfig, train


def config(ds, tmp_path, **kw):
    base = dict(dataset=str(ds.root), backbone="tiny_cnn", epochs=4, batch_size=8,
                models_root=str(tmp_path / "models"), cache_root=str(tmp_path / "cache"),
                cache_precision="fp32", train_precision="fp32")
    return TrainConfig(**{**base, **kw})


def split_images(ds, split="test"):
    df = ds.read()
    rows = df[df["split"] == split]
    return [load_rgb(ds.image_path(p)) for p in rows["path"]]


def predicted_test_confusion(run, ds) -> tuple[list[list[int]], torch.Tensor, torch.Tensor]:
    """(city confusion matrix of what ``run`` predicts for the test images, class
    probabilities, group probabilities) — to compare with the metrics recorded in training."""
    from sklearn.metrics import confusion_matrix

    classes = run.info["labels"]["classes"]
    pc, pg = predict_images(run, split_images(ds))
    truth = ds.read().query("split == 'test'")["class"].map({c: i for i, c in enumerate(classes)})
    cm = confusion_matrix(truth.to_numpy(), pc.argmax(1).numpy(), labels=range(len(classes)))
    return cm.tolist(), pc, pg


@pytest.mark.parametrize("mode", ["transfer", "finetune"])
def test_cached_and_uncached_training_give_the_same_model(tiny_dataset, tmp_path, mode):
    a = train(config(tiny_dataset, tmp_path, mode=mode, name="cached", cache_dtype="float32"),
              progress=False)
    b = train(config(tiny_dataset, tmp_path, mode=mode, name="live", cache=False), progress=False)
    ma, mb = load_model(a), load_model(b)
    for (k, va), vb in zip(ma.state_dict().items(), mb.state_dict().values()):
        assert torch.allclose(va, vb, atol=1e-5), k
    assert a.info["metrics"]["test"] == b.info["metrics"]["test"]
    assert (a.path.parent / ".." / "cache" / "trunk").resolve().is_dir()


def test_float16_cache_keeps_predictions(tiny_dataset, tmp_path):
    a = train(config(tiny_dataset, tmp_path, mode="transfer", name="f16"), progress=False)
    b = train(config(tiny_dataset, tmp_path, mode="transfer", name="live", cache=False), progress=False)
    ca = a.info["metrics"]["test"]["city"]["confusion"]
    assert ca == b.info["metrics"]["test"]["city"]["confusion"]


def test_train_save_reload_predict_cycle(tiny_dataset, tmp_path):
    run = train(config(tiny_dataset, tmp_path, mode="finetune", epochs=6), progress=False)
    info = json.loads(run.files.info.read_text())
    assert info["labels"]["classes"] == ["paris", "seoul", "tokyo"]
    assert info["labels"]["class_to_group"] == {"paris": "West", "seoul": "East", "tokyo": "East"}
    assert info["dataset"]["fingerprint"] and info["code_version"]
    assert set(info["metrics"]) == {"val", "test"}
    history = pd.read_csv(run.files.history)
    assert list(history["epoch"]) == list(range(1, len(history) + 1))
    # reload from disk: predictions equal the metrics recorded at training time
    reloaded = open_run(run.name, tmp_path / "models")
    cm, pc, pg = predicted_test_confusion(reloaded, tiny_dataset)
    assert cm == info["metrics"]["test"]["city"]["confusion"]
    assert np.isclose(pc.sum(1), 1).all() and pg.shape == (len(pc), 2)


def test_same_seed_same_metrics_and_learns(tiny_dataset, tmp_path):
    a = train(config(tiny_dataset, tmp_path, mode="scratch", epochs=8, name="s1", seed=3), progress=False)
    b = train(config(tiny_dataset, tmp_path, mode="scratch", epochs=8, name="s2", seed=3), progress=False)
    assert a.info["metrics"] == b.info["metrics"]
    assert a.info["metrics"]["val"]["city"]["accuracy"] > 0.5  # colour classes are learnable


def test_svm_head_equals_sklearn_decision_function(tiny_dataset, tmp_path):
    run = train(config(tiny_dataset, tmp_path, mode="svm", svm_c=(0.1,)), progress=False)
    model = load_model(run)
    df = tiny_dataset.read()
    tf = make_transform(run.spec, run.weights)
    def pooled(split):
        rows = df[df["split"] == split]
        x = torch.stack([tf(load_rgb(tiny_dataset.image_path(p))) for p in rows["path"]])
        with torch.no_grad():
            return model.features(x).mean(dim=(2, 3)).numpy(), rows
    xt, rows_t = pooled("train")
    xs, _ = pooled("test")
    mean, scale = model.mean.numpy(), model.scale.numpy()
    svm = LinearSVC(C=0.1, random_state=0, max_iter=5000, dual="auto").fit(
        (xt - mean) / scale, rows_t["class"].map({"paris": 0, "seoul": 1, "tokyo": 2}))
    with torch.no_grad():
        logits = model.head(model.features(torch.stack(
            [tf(load_rgb(tiny_dataset.image_path(p))) for p in df[df["split"] == "test"]["path"]])))[0]
    np.testing.assert_allclose(logits.numpy(), svm.decision_function((xs - mean) / scale), atol=2e-3)
    assert run.info["svm"]["city"]["C"] == 0.1


def test_binary_svm_becomes_two_logits():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]])
    svm = LinearSVC(dual="auto").fit(x, [0, 1, 0, 1])
    w, b = decision_weights(svm, 2)
    logits = x @ w.T + b
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], svm.decision_function(x), atol=1e-9)
    assert (logits.argmax(1) == svm.predict(x)).all()


def test_comparison_table_lists_every_run(tiny_dataset, tmp_path):
    for mode in ("transfer", "svm"):
        train(config(tiny_dataset, tmp_path, mode=mode, epochs=2), progress=False)
    table = comparison_table(list_runs(tmp_path / "models"))
    assert sorted(table["mode"]) == ["svm", "transfer"]
    assert table[["val_city", "test_city", "test_group"]].notna().all().all()


def test_poisoned_checkpoint_is_refused(tiny_dataset, tmp_path):
    run = train(config(tiny_dataset, tmp_path, mode="transfer", epochs=1), progress=False)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"trunk.block1.conv.weight": Evil()}, run.files.model)
    with pytest.raises(UntrustedCheckpointError):
        load_model(open_run(run.path))
    assert not marker.exists()


def test_dataset_without_a_split_is_a_clear_error(tiny_dataset, tmp_path):
    import shutil

    from analysis.data.dataset import Dataset

    copy = Dataset(tmp_path / "copy")
    shutil.copytree(tiny_dataset.root, copy.root)
    df = copy.read()
    df["split"] = "train"
    copy.write(df)
    with pytest.raises(DatasetError, match="no val/test images"):
        train(config(copy, tmp_path, mode="transfer"), progress=False)


def test_bf16_cache_is_close_to_fp32_and_recorded(tiny_dataset, tmp_path):
    from analysis.train.trunk_cache import cached_ids

    a = train(config(tiny_dataset, tmp_path, mode="transfer", name="fp32", cache_dtype="float32"),
              progress=False)
    b = train(config(tiny_dataset, tmp_path, mode="transfer", name="bf16", cache_dtype="float32",
                     cache_precision="bf16"), progress=False)
    assert a.info["trunk_cache"]["precision"] == "fp32" and b.info["trunk_cache"]["precision"] == "bf16"
    root = Path(a.info["trunk_cache"]["root"])
    fa, fb = a.info["trunk_cache"]["files"], b.info["trunk_cache"]["files"]
    assert set(fa) == set(fb) == {"train", "val", "test"} and fa["test"] != fb["test"]
    x32, x16 = np.load(root / fa["test"]), np.load(root / fb["test"])
    assert x32.ndim == 4  # the full feature map is kept (the analysis starts from it)
    assert not np.array_equal(x32, x16)  # bf16 really ran
    assert np.linalg.norm(x16 - x32) / np.linalg.norm(x32) < 0.02
    test_ids = tiny_dataset.usable().query("split == 'test'")["id"].tolist()
    assert cached_ids(root / fa["test"]) == test_ids


def test_transfer_cache_starts_from_a_finetune_prefix_cache(tiny_dataset, tmp_path, monkeypatch):
    """After a fine-tuning run cached the prefix, a transfer run on the same images runs
    only the tail: the images are not read again, and the model equals one trained from
    the images."""
    from analysis.train import data as train_data

    kw = dict(cache_dtype="float32")
    train(config(tiny_dataset, tmp_path, mode="finetune", name="ft", **kw), progress=False)
    reads = []
    real = train_data.ImageTable.__getitem__
    monkeypatch.setattr(train_data.ImageTable, "__getitem__",
                        lambda self, i: reads.append(i) or real(self, i))
    a = train(config(tiny_dataset, tmp_path, mode="transfer", name="from-prefix", **kw), progress=False)
    assert reads == []
    b = train(config(tiny_dataset, tmp_path / "other", mode="transfer", name="from-images", **kw),
              progress=False)
    assert reads  # that one had no prefix cache to start from
    for (k, va), vb in zip(load_model(a).state_dict().items(), load_model(b).state_dict().values()):
        assert torch.allclose(va, vb, atol=1e-5), k


def test_compute_outputs_channels_last_gives_the_plain_forward_and_restores_the_net():
    """The cache pass runs channels-last for speed; the values match an ordinary NCHW
    forward, and the network comes back in its own layout with ordinary (not inference-
    mode) parameters, so it can still be trained or back-propagated through."""
    from analysis.train.trunk_cache import compute_outputs

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                              torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, groups=8, padding=1))
    images = [(torch.rand(3, 12, 12), 0) for _ in range(5)]
    out = compute_outputs(net, images, 2, torch.device("cpu"), progress=False)
    with torch.no_grad():
        expected = net.eval()(torch.stack([x for x, _ in images])).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    for p in net.parameters():
        assert not p.is_inference() and p.is_contiguous()
    net(torch.rand(1, 3, 12, 12, requires_grad=True)).sum().backward()  # still differentiable


def test_bf16_training_keeps_fp32_weights_and_reports_the_saved_models_metrics(tiny_dataset, tmp_path,
                                                                            monkeypatch):
    """Mixed precision: the training passes run under bf16 autocast, yet the weights are
    fp32 and the recorded test confusion is what the saved model predicts (evaluation in
    fp32), and the model still learns the colour classes."""
    from analysis.train import loop

    used = []
    real = loop.autocast
    monkeypatch.setattr(loop, "autocast", lambda device, precision: used.append(precision) or real(device, precision))
    run = train(config(tiny_dataset, tmp_path, mode="scratch", epochs=8, seed=3,
                       train_precision="bf16"), progress=False)
    assert used and set(used) == {"bf16"} and run.info["train_precision"] == "bf16"
    model = load_model(run)
    assert all(v.dtype == torch.float32 for v in model.state_dict().values() if v.is_floating_point())
    assert predicted_test_confusion(run, tiny_dataset)[0] == run.info["metrics"]["test"]["city"]["confusion"]
    assert run.info["metrics"]["val"]["city"]["accuracy"] > 0.5


def test_fraction_positions_are_stratified_seeded_and_whole_at_one():
    from analysis.train.trainer import fraction_positions

    df = pd.DataFrame({"class": ["a"] * 10 + ["b"] * 4})
    keep = fraction_positions(df, 0.25, seed=0)
    assert (df["class"].iloc[keep] == "a").sum() == 3 and (df["class"].iloc[keep] == "b").sum() == 1
    assert keep.tolist() == sorted(keep.tolist())
    assert fraction_positions(df, 0.25, seed=0).tolist() == keep.tolist()
    assert any(fraction_positions(df, 0.25, seed=s).tolist() != keep.tolist() for s in range(1, 6))
    assert fraction_positions(df, 1.0, seed=3).tolist() == list(range(14))
    with pytest.raises(ValueError, match="train_fraction"):
        fraction_positions(df, 0, seed=0)


def test_a_fraction_trains_on_fewer_images_and_predictions_match_the_metrics(tiny_dataset, tmp_path):
    run = train(config(tiny_dataset, tmp_path, mode="transfer", train_fraction=0.5, name="half"), progress=False)
    df = tiny_dataset.read()
    n_train = int((df["split"] == "train").sum())
    assert run.info["dataset"]["n_train"] == sum(int(np.ceil(0.5 * n)) for n in
                                                 df[df["split"] == "train"].groupby("class").size())
    assert run.info["dataset"]["n_train"] < n_train
    pred = pd.read_csv(run.files.predictions)
    test = pred[pred["split"] == "test"]
    assert set(test["id"]) == set(df.loc[df["split"] == "test", "id"])
    assert (test["pred_class"] == test["y_class"]).mean() == pytest.approx(run.info["metrics"]["test"]["city"]["accuracy"])
    assert (test["pred_group"] == test["y_group"]).mean() == pytest.approx(run.info["metrics"]["test"]["group"]["accuracy"])
    # the fraction reads the whole split's cached trunk outputs: one cache file per split
    again = train(config(tiny_dataset, tmp_path, mode="transfer", name="full"), progress=False)
    assert again.info["dataset"]["n_train"] == n_train
    assert again.info["trunk_cache"]["files"] == run.info["trunk_cache"]["files"]
