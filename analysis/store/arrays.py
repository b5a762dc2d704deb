"""Arrays written batch by batch that survive a crash.

A long array is written *streaming* into ``<name>.partial`` (a chunked array, see
:mod:`.chunked`), one shard of rows at a time, with a progress file (rows done) updated
after each shard; the final name appears only by an atomic rename once complete. A killed
analysis resumes at the first unfinished shard, and a reader never sees a half-written
array under its final name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from analysis.store import chunked
from analysis.store.files import write_json_atomic

PARTIAL_SUFFIX = ".partial"
PROGRESS_SUFFIX = ".progress.json"


class StreamingArray:
    """An (N, …) array filled in row order, batch by batch, resumable after a crash.

    ``start`` is the number of rows already on disk (whole shards); write rows from there on
    with :meth:`write`, then :meth:`finish` moves the array into place. Rows are buffered
    up to a shard boundary, so each shard file is written once, whole."""

    def __init__(self, target: Path, shape: tuple[int, ...], dtype: str, key: dict,
                 shard_rows: int = chunked.SHARD_ROWS):
        self.target, self.shape, self.dtype = Path(target), tuple(int(s) for s in shape), np.dtype(dtype)
        self.partial = self.target.with_name(self.target.name + PARTIAL_SUFFIX)
        self.progress = self.target.with_name(self.target.name + PROGRESS_SUFFIX)
        self.rows = max(1, min(int(shard_rows), max(self.shape[0], 1)))
        self.key = {**key, "shape": list(self.shape), "dtype": self.dtype.str, "shard_rows": self.rows}
        state = self._read_progress()
        if state and state.get("key") == self.key and chunked.exists(self.partial):
            self.start = int(state["rows"])
            self.z = chunked.open_writable(self.partial)
        else:
            self.z = chunked.create(self.partial, self.shape, self.dtype, self.rows)
            self.start = 0
            self._write_progress(0)
        self.next = self.start  # the next row write() expects
        self.buffer: list[np.ndarray] = []

    def _read_progress(self) -> dict | None:
        try:
            return json.loads(self.progress.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def _write_progress(self, rows: int) -> None:
        write_json_atomic(self.progress, {"key": self.key, "rows": rows})

    def write(self, start: int, values: np.ndarray) -> None:
        """Rows ``start:start+len(values)``, in order; progress is recorded shard by shard."""
        values = np.ascontiguousarray(values, dtype=self.dtype)
        if values.shape[1:] != self.shape[1:] or start + len(values) > self.shape[0]:
            raise ValueError(f"rows {start}:{start + len(values)} of shape {values.shape[1:]} do not fit "
                             f"an array of shape {self.shape}")
        if start != self.next:
            raise ValueError(f"rows must be written in order: expected row {self.next}, got {start}")
        self.buffer.append(values)
        self.next += len(values)
        self._flush()

    def _flush(self) -> None:
        """Write every shard the buffer completes (the last shard ends at the last row)."""
        shard_start = self.next - sum(len(v) for v in self.buffer)
        index = shard_start // self.rows
        end = min(self.shape[0], (index + 1) * self.rows)
        while self.buffer and self.next >= end:
            block = np.concatenate(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
            take = end - shard_start
            chunked.write_shard(self.z, index, block[:take])
            self.buffer = [block[take:]] if len(block) > take else []
            self._write_progress(end)
            shard_start, index = end, index + 1
            end = min(self.shape[0], (index + 1) * self.rows)

    def written(self, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` already on disk (below ``start``): what a resumed stage reads back."""
        if b > self.start:
            raise ValueError(f"rows {a}:{b} are not all written yet (only {self.start})")
        return np.asarray(self.z[a:b])

    def finish(self) -> None:
        if self.next != self.shape[0]:
            raise ValueError(f"only {self.next} of {self.shape[0]} rows were written")
        chunked.replace_dir(self.partial, self.target)
        self.progress.unlink(missing_ok=True)


def batched(n: int, batch_size: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """``(a, b)`` row ranges of at most ``batch_size`` covering ``start:n``."""
    for s in range(start, n, batch_size):
        yield s, min(n, s + batch_size)
