"""What an explanation explains: one output of one head — "why tokyo?" — as a value.

A :class:`Target` names the head ("city" or "group"), the class index within that head
(or one index per sample of a batch) and, for display, the class's name. Maps, channel
and concept evidence, on-demand methods and the dashboard all pass targets as this one
dataclass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

HEADS = ("city", "group")
"""Output heads of a two-head classifier, in ``forward``'s order."""


@dataclass(frozen=True)
class Target:
    head: str
    index: int | tuple[int, ...]
    label: str = ""

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"target head must be one of {HEADS}, got {self.head!r}")
        index = self.index
        if isinstance(index, Sequence) and not isinstance(index, str):
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in index):
                raise ValueError(f"target indices must be ints, got {list(index)!r}")
            object.__setattr__(self, "index", tuple(int(i) for i in index))
        elif isinstance(index, bool) or not isinstance(index, int):
            raise ValueError(f"target index must be an int or one int per sample, got {index!r}")

    @classmethod
    def of(cls, head: str, index: int, names: Sequence[str]) -> "Target":
        """The target for class ``index`` of ``head``, labelled from the head's ``names``."""
        return cls(head, int(index), str(names[int(index)]))

    def output(self, n_classes: int) -> int:
        """Position of this output among all outputs of both heads (every class, then every
        group), as the analysis stores per-output arrays (Grad-CAM maps, gradients …)."""
        if not isinstance(self.index, int):
            raise ValueError("a per-sample target has no single output position")
        return self.index if self.head == "city" else n_classes + self.index

    def check_range(self, size: int) -> None:
        """Raise when an index does not exist in a head of ``size`` outputs."""
        bad = [i for i in ((self.index,) if isinstance(self.index, int) else self.index) if not 0 <= i < size]
        if bad:
            raise ValueError(f"target index {bad[0]} out of range for the {self.head} head "
                             f"with {size} outputs (valid: 0..{size - 1})")


def as_target(target: Any, n: int) -> Target:
    """``target`` as a :class:`Target` whose index is an int or exactly ``n`` ints (one per
    sample). Besides a Target, ``(head, index)`` and a bare int (the city head) are
    accepted for interactive use; an index tensor is read as ints."""
    if isinstance(target, Target):
        head, index = target.head, target.index
    elif isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], str):
        head, index = target
    elif isinstance(target, (tuple, list)) or isinstance(target, str):
        raise ValueError(f"target must be a Target, an int or (head, index) with head in {HEADS}, "
                         f"got {target!r}")
    else:
        head, index = "city", target
    if head not in HEADS:
        raise ValueError(f"target head must be one of {HEADS}, got {head!r}")
    if isinstance(index, torch.Tensor):
        if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
            raise ValueError(f"target index tensor must be integer, got {index.dtype}")
        index = int(index) if index.dim() == 0 else index.flatten().tolist()
    label = target.label if isinstance(target, Target) else ""
    if isinstance(index, bool):
        raise ValueError(f"target index must be an int, got {index!r}")
    if isinstance(index, int):
        return Target(head, index, label)
    if isinstance(index, Sequence) and not isinstance(index, str):
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in index):
            raise ValueError(f"target indices must be ints, got {list(index)!r}")
        if len(index) != n:
            raise ValueError(f"target has {len(index)} indices for {n} inputs; give one per input or one int")
        return Target(head, tuple(index), label)
    raise ValueError(f"target index must be an int or one int per input, got {index!r}")
