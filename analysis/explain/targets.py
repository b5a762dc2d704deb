"""What an explanation explains: one output of one head — "why tokyo?" — as a value.

A :class:`Target` names the head ("city" or "group"), the class index within that head
(or one index per sample of a batch) and, for display, the class's name. Maps, channel
and concept evidence, on-demand methods and the dashboard all pass targets as this one
dataclass.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HEADS = ("city", "group")
"""Output heads of a two-head classifier, in ``forward``'s order."""


@dataclass(frozen=True)
class Target:
    head: str
    index: int | tuple[int, ...]
    label: str = ""

    def __post_init__(self) -> None:
        """Check the head and read the index as an int or a tuple of ints (an integer
        tensor of labels, e.g. a batch's ``y``, is read as ints too)."""
        if self.head not in HEADS:
            raise ValueError(f"target head must be one of {HEADS}, got {self.head!r}")
        index = self.index
        # A tensor index means torch is already loaded; the dashboard builds targets from
        # ints and must not import torch for it (3–7 s on a fresh server).
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(index, torch.Tensor):
            if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
                raise ValueError(f"target index tensor must be integer, got {index.dtype}")
            index = int(index) if index.dim() == 0 else tuple(index.flatten().tolist())
        if isinstance(index, Sequence) and not isinstance(index, str):
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in index):
                raise ValueError(f"target indices must be ints, got {list(index)!r}")
            index = tuple(int(i) for i in index)
        elif isinstance(index, bool) or not isinstance(index, int):
            raise ValueError(f"target index must be an int or one int per sample, got {index!r}")
        object.__setattr__(self, "index", index)

    @classmethod
    def of(cls, head: str, index: int, names: Sequence[str]) -> Target:
        """The target for class ``index`` of ``head``, labelled from the head's ``names``."""
        return cls(head, int(index), str(names[int(index)]))

    def output(self, n_classes: int) -> int:
        """Position of this output among all outputs of both heads (every class, then every
        group), as the analysis stores per-output arrays (Grad-CAM maps, gradients …)."""
        if not isinstance(self.index, int):
            raise ValueError("a per-sample target has no single output position")
        return self.index if self.head == "city" else n_classes + self.index

    def per_sample(self, n: int) -> list[int]:
        """One index per input of a batch of ``n`` (checked with :func:`batch_target`)."""
        return [self.index] * n if isinstance(self.index, int) else list(self.index)

    def check_range(self, size: int) -> None:
        """Raise when an index does not exist in a head of ``size`` outputs."""
        bad = [i for i in ((self.index,) if isinstance(self.index, int) else self.index) if not 0 <= i < size]
        if bad:
            raise ValueError(f"target index {bad[0]} out of range for the {self.head} head "
                             f"with {size} outputs (valid: 0..{size - 1})")


def batch_target(target: Any, n: int) -> Target:
    """``target`` itself once it is known to be a :class:`Target` that fits a batch of
    ``n`` inputs (one index, or exactly one per input): one clear error for anything else."""
    if not isinstance(target, Target):
        raise ValueError(f"target must be a Target(head, index), got {target!r}")
    if isinstance(target.index, tuple) and len(target.index) != n:
        raise ValueError(f"target has {len(target.index)} indices for {n} inputs; "
                         "give one per input or one int")
    return target
