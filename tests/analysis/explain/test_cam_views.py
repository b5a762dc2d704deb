"""The dashboard's numpy resize, display map and percentile scaling (``cam_views``) against
the torch ones (``scaling.upsample``, ``gradcam.display_map``, ``scaling.to_display``), the
first two tested against pytorch-grad-cam in test_gradcam.py; and by hand on small maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.explain.cam_views import display_array, normalise_array, resize_bilinear, to_display_array
from analysis.explain.gradcam import display_map
from analysis.explain.scaling import normalise, to_display, upsample


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


def _maps(kind: str, shape) -> np.ndarray:
    m = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    if kind == "spiky":  # a few extreme pixels, as gradients have
        m[..., 0, 0] = 1e3
    elif kind == "sparse":  # the percentile is 0: scaled by the max instead
        m = np.where(np.abs(m) > 3.0, m, 0).astype(np.float32)
    elif kind == "zero":
        m = np.zeros(shape, np.float32)
    return m


@pytest.mark.parametrize("kind", ["normal", "spiky", "sparse", "zero"])
@pytest.mark.parametrize("shape", [(40, 40), (3, 9, 13), (224, 224)])
@pytest.mark.parametrize("signed, percentile", [(False, 99.0), (True, 99.0), (True, 50.0), (False, 100.0)])
def test_to_display_array_equals_to_display(kind, shape, signed, percentile):
    m = _maps(kind, shape)
    ours = to_display_array(m, signed=signed, percentile=percentile)
    ref = to_display(torch.from_numpy(m), signed=signed, percentile=percentile).numpy()
    assert ours.dtype == np.float32 and ours.shape == shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-6)


def test_to_display_array_by_hand():
    m = np.array([[0.0, 1.0], [-2.0, 4.0]])
    np.testing.assert_allclose(to_display_array(m, signed=True, percentile=100), [[0, 0.25], [-0.5, 1]])
    np.testing.assert_allclose(to_display_array(m, percentile=100), [[0, 0.25], [0.5, 1]])
    with pytest.raises(ValueError, match="percentile"):
        to_display_array(m, percentile=0)
    with pytest.raises(ValueError, match=r"\(H, W\) or \(N, H, W\)"):
        to_display_array(np.zeros(4))
