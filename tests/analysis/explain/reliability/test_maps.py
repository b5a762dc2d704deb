"""The maps the checks compare: guided Grad-CAM as Grad-CAM × guided backprop equals the
registry's captum GuidedGradCam; method names are checked."""
from __future__ import annotations

import pytest
import torch

from analysis.explain.registry import get_method
from analysis.explain.reliability.maps import DEFAULT_METHODS, MapSettings, compute_maps, parse_methods
from analysis.explain.targets import Target
from analysis.train.runs import load_model


def test_guided_gradcam_product_equals_registry(tiny_run, tiny_dataset):
    from analysis.train.data import load_rgb, make_transform

    model = load_model(tiny_run)
    rows = tiny_dataset.usable().head(5)
    tf = make_transform(tiny_run.spec, tiny_run.weights, "none", tiny_run.info["backbone"]["input_size"])
    x = torch.stack([tf(load_rgb(tiny_dataset.image_path(p))) for p in rows["path"]])
    target = Target("city", [0, 1, 2, 1, 0])
    settings = MapSettings(target_layer=tiny_run.spec.target_layer, batch_size=2)
    maps = compute_maps(model, x, target, ["gradcam", "guided_backprop", "guided_gradcam"], settings)
    ref = get_method("guided_gradcam", model, target_layer=tiny_run.spec.target_layer).attribute(x, target)
    assert maps["guided_gradcam"].shape == (5, *x.shape[-2:])
    assert torch.allclose(torch.from_numpy(maps["guided_gradcam"]), ref, atol=1e-5, rtol=1e-4)
    alone = compute_maps(model, x, target, ["guided_gradcam"], settings)["guided_gradcam"]
    assert torch.allclose(torch.from_numpy(alone), ref, atol=1e-5, rtol=1e-4)


def test_parse_methods():
    assert parse_methods("") == DEFAULT_METHODS and parse_methods(None) == DEFAULT_METHODS
    assert parse_methods("gradient, gradcam,gradient") == ("gradient", "gradcam")
    with pytest.raises(ValueError, match="unknown attribution method.*nonsense"):
        parse_methods("gradcam,nonsense")
