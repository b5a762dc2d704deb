"""render_checkpoints: several step counts from one optimisation, a step callback, named
parameterisations and transforms (tiny CNN at 32 px, a few steps)."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.explain.featvis import (
    PARAMETERISATIONS,
    TRANSFORMS,
    render_checkpoints,
    render_features,
    transform_preset,
)
from analysis.nets import get_backbone

MEAN_STD = get_backbone("tiny_cnn").mean_std()
KW = {"size": 32, "batch": 2, "mean_std": MEAN_STD, "progress": False, "seed": 3}
OBJECTIVES = [("channel", 0), ("channel", 1), ("direction", np.linspace(0, 1, 32))]

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/analysis/explain/conftest.py


def same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))


def test_checkpoints_are_the_renders_of_those_step_counts(model):
    out = render_checkpoints(model, "block3", OBJECTIVES, checkpoints=(6, 3), **KW)
    assert sorted(out) == [3, 6] and all(len(v) == 3 for v in out.values())
    assert same(out[3], render_features(model, "block3", OBJECTIVES, steps=3, **KW))
    assert same(out[6], render_features(model, "block3", OBJECTIVES, steps=6, **KW))
    assert not same(out[3], out[6])


def test_on_step_counts_every_step_of_every_batch(model):
    calls = []
    render_features(model, "block3", OBJECTIVES, steps=4, on_step=lambda d, t: calls.append((d, t)), **KW)
    assert calls == [(i, 8) for i in range(1, 9)]  # 3 objectives in batches of 2: 2 × 4 steps


def test_named_parameterisation_and_transforms(model):
    fft = render_features(model, "block3", OBJECTIVES[:1], steps=3, param="fft", **KW)
    assert same(fft, render_features(model, "block3", OBJECTIVES[:1], steps=3, fft=True, decorrelate=True, **KW))
    pixel = render_features(model, "block3", OBJECTIVES[:1], steps=3, param="pixel", **KW)
    assert not same(fft, pixel)
    none = render_features(model, "block3", OBJECTIVES[:1], steps=3, transforms="none", **KW)
    assert same(none, render_features(model, "block3", OBJECTIVES[:1], steps=3, transforms=[], **KW))
    assert set(PARAMETERISATIONS) == {"fft", "pixel"} and len(transform_preset("jitter")) == 2
    assert all(isinstance(transform_preset(t), list) for t in TRANSFORMS)
    with pytest.raises(ValueError, match="unknown parameterisation"):
        render_features(model, "block3", OBJECTIVES[:1], steps=1, param="wavelet", **KW)
    with pytest.raises(ValueError, match="unknown transforms"):
        render_features(model, "block3", OBJECTIVES[:1], steps=1, transforms="heavy", **KW)
