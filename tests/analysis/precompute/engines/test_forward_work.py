"""The forward work's cast to the stored dtype: torch's float16 cast gives numpy's bits."""
from __future__ import annotations

import numpy as np
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
