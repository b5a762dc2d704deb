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
    :meth:`write`, then :meth:`finish` renames the file into place.

    Rows go to the file with ``os.pwrite`` at their offset: once the call returns they are
    in the page cache, which outlives a killed process, and the progress file follows.
    (The former memory map had to ``msync`` the *whole* mapping after every batch, a cost
    that grew with the array: O(N²) kernel time over an analysis, see
    benchmarks/bench_analysis_scale.py.)"""

    def __init__(self, target: Path, shape: tuple[int, ...], dtype: str, key: dict):
        self.target, self.shape, self.dtype = Path(target), tuple(shape), np.dtype(dtype)
        self.partial = self.target.with_name(self.target.name + PARTIAL_SUFFIX)
        self.progress = self.target.with_name(self.target.name + PROGRESS_SUFFIX)
        self.key = {**key, "shape": list(self.shape), "dtype": self.dtype.str}
        state = self._read_progress()
        if state and state.get("key") == self.key and self.partial.is_file():
            header = np.lib.format.open_memmap(self.partial, mode="r")  # reads the header only
            self.start = int(state["rows"])
        else:
            self.partial.unlink(missing_ok=True)
            # the .npy header and a sparse file of the full size; rows are written into it
            header = np.lib.format.open_memmap(self.partial, mode="w+", dtype=self.dtype, shape=self.shape)
            self.start = 0
            self._write_progress(0)
        self.offset = header.offset
        del header
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self.fd = os.open(self.partial, os.O_WRONLY)

    def _read_progress(self) -> dict | None:
        try:
            return json.loads(self.progress.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def _write_progress(self, rows: int) -> None:
        write_json_atomic(self.progress, {"key": self.key, "rows": rows})

    def write(self, start: int, values: np.ndarray) -> None:
        """Rows ``start:start+len(values)``; progress is recorded only after they are written."""
        values = np.ascontiguousarray(values, dtype=self.dtype)
        if values.shape[1:] != self.shape[1:] or start + len(values) > self.shape[0]:
            raise ValueError(f"rows {start}:{start + len(values)} of shape {values.shape[1:]} do not fit "
                             f"an array of shape {self.shape}")
        view, pos = memoryview(values.reshape(-1).view(np.uint8)), self.offset + start * self.row_bytes
        while view:
            done = os.pwrite(self.fd, view, pos)
            view, pos = view[done:], pos + done
        self._write_progress(start + len(values))

    def finish(self) -> None:
        os.close(self.fd)
        self.fd = None
        os.replace(self.partial, self.target)
        self.progress.unlink(missing_ok=True)

    def __del__(self):  # a stream dropped unfinished (a crash, an exception): release the file
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)
            self.fd = None


def batched(n: int, batch_size: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """``(a, b)`` row ranges of at most ``batch_size`` covering ``start:n``."""
    for s in range(start, n, batch_size):
        yield s, min(n, s + batch_size)
