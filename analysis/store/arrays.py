"""Arrays written batch by batch that survive a crash.

Long arrays are written *streaming* into ``<name>.partial`` with a progress file (rows
done) updated after each flushed batch; the final name appears only by an atomic rename
once complete. A killed analysis resumes where it stopped, and a reader never sees a
half-written array under its final name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from analysis.store.files import write_json_atomic

PARTIAL_SUFFIX = ".partial"
PROGRESS_SUFFIX = ".progress.json"


class StreamingArray:
    """An (N, …) array filled batch by batch, resumable after a crash.

    ``start`` is the number of rows already on disk; write rows from there on with
    :meth:`write`, then :meth:`finish` renames the file into place."""

    def __init__(self, target: Path, shape: tuple[int, ...], dtype: str, key: dict):
        self.target, self.shape, self.dtype = Path(target), tuple(shape), np.dtype(dtype)
        self.partial = self.target.with_name(self.target.name + PARTIAL_SUFFIX)
        self.progress = self.target.with_name(self.target.name + PROGRESS_SUFFIX)
        self.key = {**key, "shape": list(self.shape), "dtype": self.dtype.str}
        state = self._read_progress()
        if state and state.get("key") == self.key and self.partial.is_file():
            self.array = np.lib.format.open_memmap(self.partial, mode="r+")
            self.start = int(state["rows"])
        else:
            self.partial.unlink(missing_ok=True)
            self.array = np.lib.format.open_memmap(self.partial, mode="w+", dtype=self.dtype,
                                                   shape=self.shape)
            self.start = 0
            self._write_progress(0)

    def _read_progress(self) -> dict | None:
        try:
            return json.loads(self.progress.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def _write_progress(self, rows: int) -> None:
        write_json_atomic(self.progress, {"key": self.key, "rows": rows})

    def write(self, start: int, values: np.ndarray) -> None:
        """Rows ``start:start+len(values)``; progress is recorded only after the flush."""
        self.array[start : start + len(values)] = values
        self.array.flush()
        self._write_progress(start + len(values))

    def finish(self) -> None:
        self.array.flush()
        del self.array
        os.replace(self.partial, self.target)
        self.progress.unlink(missing_ok=True)


def batched(n: int, batch_size: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """``(a, b)`` row ranges of at most ``batch_size`` covering ``start:n``."""
    for s in range(start, n, batch_size):
        yield s, min(n, s + batch_size)
