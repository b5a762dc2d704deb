"""The Target value: its checks (known head, integer indices, in range, one per sample)
and the output positions the cached per-output arrays are read at."""
from __future__ import annotations

import pytest
import torch

from analysis.explain.targets import Target, batch_target


def test_indices_are_ints_or_one_int_per_sample():
    assert Target("city", [2, 0]).index == (2, 0)
    assert Target("group", torch.tensor([1, 0, 1])) == Target("group", (1, 0, 1))
    assert Target("city", torch.tensor(3)).index == 3
    for head, index in (("country", 0), ("city", 1.5), ("city", True), ("city", "1"), ("city", [0, 1.0]),
                        ("city", torch.tensor([0.0, 1.0])), ("city", torch.tensor([True]))):
        with pytest.raises(ValueError):
            Target(head, index)


def test_label_and_output_position():
    t = Target.of("group", 1, ["east", "west"])
    assert t == Target("group", 1, "west")
    assert t.output(n_classes=10) == 11 and Target("city", 4).output(10) == 4
    with pytest.raises(ValueError, match="per-sample"):
        Target("city", (1, 2)).output(10)


def test_range_and_batch_checks():
    Target("city", (0, 3)).check_range(4)
    with pytest.raises(ValueError, match="out of range"):
        Target("city", (0, 4)).check_range(4)
    assert batch_target(Target("city", 1), 3).per_sample(3) == [1, 1, 1]
    assert batch_target(Target("city", (2, 0)), 2).per_sample(2) == [2, 0]
    with pytest.raises(ValueError, match="2 indices for 3 inputs"):
        batch_target(Target("city", (2, 0)), 3)
    for not_a_target in (("city", 0), 0, "city"):
        with pytest.raises(ValueError, match="must be a Target"):
            batch_target(not_a_target, 1)
