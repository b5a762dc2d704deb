"""The forward work: torch's float16 cast gives numpy's bits; the batch norms it folds leave the
model's results as they are."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.precompute.engines.forward_work import stored


def edge_values() -> np.ndarray:
    rng = np.random.default_rng(0)
    spread = (rng.random(200_000) * 2 - 1) * np.exp2(rng.integers(-30, 18, 200_000))  # normals, subnormals, overflow
    ties = np.array([1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 2.0 ** -25, 3 * 2.0 ** -25, 65504.0, 65519.0, 65520.0,
                     2.0 ** -24, 2.0 ** -14, 1e10, -1e10, 0.0, -0.0, np.inf, -np.inf])
    return np.concatenate([spread, ties, -ties]).astype(np.float32)


def test_float16_cast_gives_numpys_bits():
    x = edge_values()
    ours = stored(torch.from_numpy(x), "float16")
    with np.errstate(over="ignore"):
        theirs = x.astype(np.float16)
    assert ours.dtype == np.float16
    np.testing.assert_array_equal(ours.view(np.uint16), theirs.view(np.uint16))
    nan = stored(torch.tensor([np.nan], dtype=torch.float32), "float16")
    assert np.isnan(nan).all()


def test_float64_goes_through_float32_as_before():
    x = torch.from_numpy(np.random.default_rng(1).normal(size=1000) * 1e-3)  # float64
    np.testing.assert_array_equal(stored(x, "float16").view(np.uint16),
                                  x.numpy().astype(np.float32).astype(np.float16).view(np.uint16))
    np.testing.assert_array_equal(stored(x, "float32"), x.numpy().astype(np.float32))
    assert stored(x, "float32").dtype == np.float32
    grad = torch.ones(3, requires_grad=True) * 2  # a tensor in a graph is detached, not refused
    np.testing.assert_array_equal(stored(grad, "float32"), np.full(3, 2, np.float32))


@pytest.fixture(scope="module")
def lite0_run(tiny_dataset, tmp_path_factory):
    """An EfficientNet-Lite0 run (49 conv → batch-norm pairs; random weights, 1 epoch at 32 px)."""
    from analysis.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("lite0")
    return train(TrainConfig(dataset=str(tiny_dataset.root), backbone="efficientnet_lite0", mode="scratch",
                             weights="random", epochs=1, batch_size=16, image_size=32,
                             models_root=str(root / "models"), cache_root=str(root / "cache"),
                             cache_precision="fp32", train_precision="fp32"), progress=False)


def test_the_forward_stage_folds_batch_norms_and_keeps_the_models_results(lite0_run, tmp_path):
    """The stage runs a folded copy (and says so); its maps and logits are the unfolded model's."""
    from analysis.explain.gradcam import all_class_cams
    from analysis.precompute import AnalyzeConfig, analyze
    from analysis.precompute.runner import dataset_for_run
    from analysis.train.data import load_rgb
    from analysis.train.runs import load_model

    cache = analyze(lite0_run.path, config=AnalyzeConfig(stages=("forward",), batch_size=8, shard_rows=16),
                    cache_root=tmp_path, progress=False, log=lambda *_: None)
    assert cache.manifest["stages"]["forward"]["batchnorms_folded"] == 49
    model = load_model(lite0_run).eval()  # as it is on disk: NCHW, nothing folded
    ds = dataset_for_run(lite0_run)
    samples = cache.samples()
    rows = [0, 5, len(samples) - 1]
    tf = lite0_run.eval_transform()
    x = torch.stack([tf(load_rgb(ds.image_path(samples["path"].iat[r]))) for r in rows])
    want = all_class_cams(model, x)
    got_logits = cache.array("class_logits")[rows]
    np.testing.assert_allclose(got_logits, want.class_logits.numpy(), rtol=1e-4, atol=1e-4)
    cams = np.asarray(cache.array("cams")[rows], np.float32)
    scale = float(want.raw.abs().max())
    np.testing.assert_allclose(cams, want.raw.numpy(), rtol=0, atol=2e-3 * scale)  # float16 storage
