"""Feature-visualisation quality: the picture's response at its unit over the mean response
of the unit's top-8 dataset images — on a 1×1-conv model with fixed weights, by hand."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from analysis.explain.featvis import render_features
from analysis.explain.featvis_quality import (
    featvis_quality,
    quality,
    reference_responses,
    responses,
    top_rows,
    unit_response,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/analysis/explain/conftest.py


@pytest.fixture
def fixed():
    """channel 0 = R + G, channel 1 = 2 B (1×1 conv, no bias), then a ReLU."""
    conv = nn.Conv2d(3, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]).view(2, 3, 1, 1))
    return nn.Sequential(OrderedDict(conv=conv, relu=nn.ReLU()))


def picture() -> Image.Image:
    """2×2: R = [[1, .2], [0, 0]], G = .2 everywhere, B = [[.4, .4], [0, 0]] (×255)."""
    r = np.array([[255, 51], [0, 0]])
    g = np.full((2, 2), 51)
    b = np.array([[102, 102], [0, 0]])
    return Image.fromarray(np.stack([r, g, b], -1).astype(np.uint8), "RGB")


# pooled features of 10 "dataset images": channel 0 = 0.0, 0.1 … 0.9; channel 1 = 0.5
FEATURES = np.stack([np.arange(10) * 0.1, np.full(10, 0.5)], 1).astype(np.float32)
DIRECTION = ("direction", np.array([3.0, 4.0]))  # unit direction (0.6, 0.8)


def test_responses_by_hand(fixed):
    # channel 0 = R + G = [[1.2, .4], [.2, .2]] → mean 0.5; channel 1 = 2 B → mean 0.4;
    # the direction: 0.6 · 0.5 + 0.8 · 0.4 = 0.62
    got = responses(fixed, "relu", [picture()] * 3, [("channel", 0), ("channel", 1), DIRECTION])
    np.testing.assert_allclose(got, [0.5, 0.4, 0.62], rtol=1e-5)


def test_reference_is_the_mean_of_the_top_eight_images():
    # channel 0: top 8 are 0.2 … 0.9 → 0.55; channel 1: 0.5; the direction: 0.06 i + 0.4 over
    # i = 2 … 9 → 0.73
    ref = reference_responses(FEATURES, [("channel", 0), ("channel", 1), DIRECTION])
    np.testing.assert_allclose(ref, [0.55, 0.5, 0.73], rtol=1e-6)
    # read in chunks (a memory map of a large dataset): the same numbers
    np.testing.assert_allclose(reference_responses(FEATURES, [("channel", 0), DIRECTION], chunk=3),
                               [0.55, 0.73], rtol=1e-6)
    assert top_rows(FEATURES, ("channel", 0)).tolist() == [9, 8, 7, 6, 5, 4, 3, 2]


def test_quality_by_hand(fixed):
    q = featvis_quality(fixed, "relu", [picture()] * 3, [("channel", 0), ("channel", 1), DIRECTION], FEATURES)
    np.testing.assert_allclose(q, [0.5 / 0.55, 0.4 / 0.5, 0.62 / 0.73], rtol=1e-5)


def test_quality_is_nan_without_a_positive_reference():
    q = quality([1.0, 1.0, 2.0], [0.0, -1.0, 4.0])
    assert np.isnan(q[0]) and np.isnan(q[1]) and q[2] == 0.5


def test_unit_response_pools_maps_and_checks_the_unit():
    maps = np.zeros((1, 2, 2, 2))
    maps[0, 0] = [[1, 2], [3, 6]]  # mean 3
    assert unit_response(maps, ("channel", 0))[0] == 3
    with pytest.raises(ValueError, match="out of range"):
        unit_response(maps, ("channel", 2))
    with pytest.raises(ValueError, match="2 channels"):
        unit_response(maps, ("direction", np.ones(3)))
    with pytest.raises(ValueError, match="unknown unit"):
        unit_response(maps, ("neuron", 0))


def test_response_is_what_the_channel_objective_maximises(model):
    """On the tiny CNN: the response equals the mean of the hooked channel (lucent's
    channel objective, negated), and a rendered picture reaches more than the grey start."""
    from analysis.nets import get_backbone

    mean_std = get_backbone("tiny_cnn").mean_std()
    grey = Image.new("RGB", (32, 32), (128, 128, 128))
    pic = render_features(model, "block3", [("channel", 5)], size=32, steps=15, lr=0.1, transforms=[],
                          mean_std=mean_std, progress=False)[0]
    x = torch.stack([torch.from_numpy(np.asarray(im, np.float32) / 255).permute(2, 0, 1) for im in (pic, grey)])
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in mean_std)
    with torch.no_grad():
        expected = model.eval().trunk((x - mean) / std)[:, 5].mean((1, 2)).numpy()  # block3 is the trunk's end
    got = responses(model, "block3", [pic, grey], [("channel", 5)] * 2, mean_std=mean_std)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert got[0] > got[1]
