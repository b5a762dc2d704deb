"""What an explanation explains: one output of one head — "why tokyo?" — as a value.

A :class:`Target` names the head ("city" or "group"), the class index within that head
(or one index per sample of a batch) and, for display, the class's name. Maps, channel
and concept evidence, on-demand methods and the dashboard all pass targets as this one
dataclass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HEADS = ("city", "group")


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
