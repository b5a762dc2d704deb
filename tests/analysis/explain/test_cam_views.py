"""The dashboard's numpy resize and display map (``cam_views``) against the torch ones
(``scaling.upsample``, ``gradcam.display_map``), which are tested against pytorch-grad-cam
in test_gradcam.py; and by hand on a 2-pixel map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.explain.cam_views import display_array, normalise_array, resize_bilinear
from analysis.explain.gradcam import display_map
from analysis.explain.scaling import normalise, upsample


def test_resize_by_hand():
    # 1 × 2 → 1 × 4, half-pixel centres: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped)
    out = resize_bilinear(np.array([[0.0, 4.0]]), (1, 4))
    np.testing.assert_allclose(out, [[0.0, 1.0, 3.0, 4.0]], atol=1e-6)


@pytest.mark.parametrize("shape, size", [((7, 7), (224, 224)), ((5, 9), (40, 72)), ((12, 12), (5, 7)),
                                         ((3, 4, 6), (31, 17)), ((1, 1), (8, 8)), ((6, 6), (6, 6))])
def test_resize_equals_torch_upsample(shape, size):
    m = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    ours = resize_bilinear(m, size)
    assert ours.dtype == np.float32 and ours.shape == shape[:-2] + size
    np.testing.assert_allclose(ours, upsample(m, size), rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_display_array_equals_display_map(dtype, tmp_path):
    raw = np.random.default_rng(1).gamma(2.0, size=(4, 7, 7)).astype(dtype)
    path = tmp_path / "maps.npy"
    np.save(path, raw)
    stored = np.load(path, mmap_mode="r")  # the dashboard reads memory-mapped maps
    for m in stored:
        ref = display_map(torch.from_numpy(np.array(m, np.float32)), (50, 60)).numpy()
        np.testing.assert_allclose(display_array(m, (50, 60)), ref, rtol=0, atol=1e-5)


def test_normalise_array_is_scaling_normalise():
    m = np.random.default_rng(2).normal(size=(3, 5, 5))
    np.testing.assert_allclose(normalise_array(m), normalise(torch.from_numpy(m)).numpy())
    assert not normalise_array(np.zeros((4, 4))).any()  # an all-zero map stays zero
