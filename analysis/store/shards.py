"""The shards of a stage's per-image output: which image ranges are written, their
checksums, and the model and dataset they were made from.

Why: the per-image stage (``forward``) is written by many writers at once — Ray actors,
possibly on several machines — or by one process that may be killed. Each shard (rows
``i·S … (i+1)·S``) is written as one file per array (zarr shards) and one parquet part per
table, then *committed* by its record (``shards/<stage>/<i>.json``, written atomically)
that lists every file's size and CRC and the fingerprints it was made from. So:
- a rerun after a crash skips shards with a record and computes only the others;
- a missing, truncated or corrupt shard is found (sizes always; CRCs with ``full=True``)
  and recomputed, while its neighbours are kept;
- a shard made from another model or dataset version is refused, in one line.
While a stage's shards are incomplete, each of its artefacts carries an ``_incomplete``
marker, so no reader takes a half-filled array for a finished one.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.store import chunked
from analysis.store.files import atomic_path, write_json_atomic

INCOMPLETE = "_incomplete"  # parquet and zarr readers both ignore names starting with "_"
WHOLE = "_whole.parquet"  # a finished table's parts in one file: one read instead of one per shard
WHOLE_ROW_GROUP = 131_072  # rows per row group of that file (``ShardSet.compact``)
LAYOUT_FILE = "layout.json"


class ShardError(ValueError):
    """A shard that must not be used as it is; the message says what to do."""


@dataclass(frozen=True)
class ShardLayout:
    """What each shard holds: arrays (name → (shape, dtype)) and per-image tables."""

    n: int
    rows: int  # images per shard
    arrays: dict[str, tuple[tuple[int, ...], str]]
    tables: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return -(-self.n // self.rows) if self.n else 0

    def bounds(self, index: int) -> tuple[int, int]:
        return index * self.rows, min(self.n, (index + 1) * self.rows)

    def to_json(self) -> dict:
        return {"n": self.n, "rows": self.rows, "tables": list(self.tables),
                "arrays": {k: [list(s), d] for k, (s, d) in self.arrays.items()}}

    @classmethod
    def from_json(cls, d: dict) -> ShardLayout:
        return cls(int(d["n"]), int(d["rows"]), {k: (tuple(s), t) for k, (s, t) in d["arrays"].items()},
                   tuple(d.get("tables", ())))


def part_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


class ShardSet:
    """The shards of one stage in one cache. ``paths`` maps artefact name → its folder."""

    def __init__(self, records: Path, paths: dict[str, Path], layout: ShardLayout, made_from: dict):
        self.records, self.paths, self.layout, self.made_from = Path(records), paths, layout, made_from
        self._open: dict = {}

    # -- set up, or pick up where a killed run stopped -------------------------------------
    def prepare(self) -> None:
        """Create the (empty) arrays and folders, unless the same layout is already there."""
        previous = self._read_layout()
        same = previous is not None and previous.to_json() == self.layout.to_json() and \
            all(chunked.exists(self.paths[a]) for a in self.layout.arrays) and \
            all(self.paths[t].is_dir() for t in self.layout.tables)
        if not same:
            shutil.rmtree(self.records, ignore_errors=True)
            for name, (shape, dtype) in self.layout.arrays.items():
                chunked.create(self.paths[name], shape, dtype, self.layout.rows)
            for name in self.layout.tables:
                shutil.rmtree(self.paths[name], ignore_errors=True)
                self.paths[name].mkdir(parents=True)
            self.records.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.records / LAYOUT_FILE, self.layout.to_json())
        for name in (*self.layout.arrays, *self.layout.tables):
            (self.paths[name] / INCOMPLETE).touch()

    def _read_layout(self) -> ShardLayout | None:
        try:
            return ShardLayout.from_json(json.loads((self.records / LAYOUT_FILE).read_text()))
        except (OSError, ValueError, KeyError):
            return None

    # -- what is there ---------------------------------------------------------------------
    def record_path(self, index: int) -> Path:
        return self.records / f"{index:06d}.json"

    def record(self, index: int) -> dict | None:
        try:
            return json.loads(self.record_path(index).read_text())
        except (OSError, ValueError):
            return None

    def done(self) -> list[int]:
        """Shards with a record made from this model and dataset (a foreign one is refused)."""
        out = []
        for i in range(self.layout.count):
            rec = self.record(i)
            if rec is None:
                continue
            self._check_origin(i, rec)
            out.append(i)
        return out

    def missing(self) -> list[int]:
        have = set(self.done())
        return [i for i in range(self.layout.count) if i not in have]

    def _check_origin(self, index: int, rec: dict) -> None:
        for what in ("model", "dataset"):
            key = f"{what}_fingerprint"
            theirs, ours = rec.get("made_from", {}).get(key), self.made_from.get(key)
            if ours and theirs != ours:
                a, b = self.layout.bounds(index)
                raise ShardError(f"shard {index} (images {a}–{b - 1}) in {self.records} was made from another "
                                 f"{what} version ({theirs} ≠ {ours}): remove it or redo the stage "
                                 "(`--redo forward`)")

    # -- writing -----------------------------------------------------------------------------
    def file_of(self, name: str, index: int) -> Path:
        if name in self.layout.tables:
            return self.paths[name] / part_name(index)
        z = self._array(name)
        return chunked.shard_file(self.paths[name], z, index)

    def _array(self, name: str):
        if name not in self._open:
            self._open[name] = chunked.open_writable(self.paths[name])
        return self._open[name]

    def write(self, index: int, arrays: dict[str, np.ndarray], tables: dict[str, pd.DataFrame] | None = None,
              made_from: dict | None = None) -> dict:
        """Write shard ``index`` (every array and table of the layout), then commit its record.
        ``made_from`` is what the writer actually used (a worker's model file), checked here."""
        tables = tables or {}
        if set(arrays) != set(self.layout.arrays) or set(tables) != set(self.layout.tables):
            raise ValueError(f"shard {index}: expected arrays {sorted(self.layout.arrays)} and tables "
                             f"{sorted(self.layout.tables)}")
        origin = {**self.made_from, **(made_from or {})}
        self._check_origin(index, {"made_from": origin})
        for name in tables:  # the table changes: its one-file copy is stale
            (self.paths[name] / WHOLE).unlink(missing_ok=True)
        for name, values in arrays.items():
            chunked.write_shard(self._array(name), index, values)
        for name, df in tables.items():
            with atomic_path(self.file_of(name, index)) as tmp:
                df.to_parquet(tmp, index=False)
        files = {name: list(chunked.checksum(self.file_of(name, index)))
                 for name in (*self.layout.arrays, *self.layout.tables)}
        rec = {"index": index, "rows": list(self.layout.bounds(index)), "files": files, "made_from": origin}
        write_json_atomic(self.record_path(index), rec)
        return rec

    def finish(self) -> list[dict]:
        """All shards written: drop the markers; returns every record (for the manifest)."""
        missing = self.missing()
        if missing:
            raise ShardError(f"{len(missing)} of {self.layout.count} shards are not written yet "
                             f"(first: {missing[0]})")
        for name in (*self.layout.arrays, *self.layout.tables):
            (self.paths[name] / INCOMPLETE).unlink(missing_ok=True)
            chunked.touch(self.paths[name])
        self.compact()
        return [self.record(i) for i in range(self.layout.count)]

    def compact(self) -> None:
        """Each table's parts, in row order, also as one file (``_whole.parquet``): a reader
        opens one file instead of thousands (2 s at a million images). The parts stay the
        truth: checked, resumed and recomputed shard by shard.

        Row groups of ``WHOLE_ROW_GROUP`` rows, not one per shard: with 3,907 groups of 256
        rows, reading the million-image samples table took 1.9 s and its ``split`` column
        alone 0.32 s; with groups of 131,072 rows, 0.7 s and 0.01 s. Parts are gathered up
        to a group at a time, so memory stays flat."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        for name in self.layout.tables:
            folder = self.paths[name]
            parts = [self.file_of(name, i) for i in range(self.layout.count)]
            if not parts or not all(p.is_file() for p in parts):
                continue
            with atomic_path(folder / WHOLE) as tmp:
                writer, pending, rows = None, [], 0
                for i, p in enumerate(parts):
                    t = pq.read_table(p)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, t.schema)
                    pending.append(t.cast(writer.schema))
                    rows += len(t)
                    if rows >= WHOLE_ROW_GROUP or i == len(parts) - 1:
                        group = pa.concat_tables(pending)
                        writer.write_table(group, row_group_size=max(len(group), 1))
                        pending, rows = [], 0
                writer.close()

    # -- checking ----------------------------------------------------------------------------
    def damaged(self, full: bool = False) -> list[tuple[int, str]]:
        """(shard, why) for every shard whose record or files do not match: a missing record
        or file, another size, or (``full``) another CRC."""
        out = []
        for i in range(self.layout.count):
            rec = self.record(i)
            if rec is None:
                out.append((i, "its record is missing"))
                continue
            self._check_origin(i, rec)
            for name, (size, crc) in rec["files"].items():
                f = self.file_of(name, i)
                if not f.is_file():
                    out.append((i, f"{name} file {f.name} is missing"))
                    break
                if f.stat().st_size != size:
                    out.append((i, f"{name} file is {f.stat().st_size} bytes, not {size} (truncated?)"))
                    break
                if full and chunked.checksum(f)[1] != crc:
                    out.append((i, f"{name} file's checksum differs (corrupt)"))
                    break
        return out

    def drop(self, indices) -> None:
        """Forget shards ``indices`` (their records and files), so that they are written again."""
        for name in (*self.layout.arrays, *self.layout.tables):
            (self.paths[name] / INCOMPLETE).touch()
        for name in self.layout.tables:
            (self.paths[name] / WHOLE).unlink(missing_ok=True)
        for i in indices:
            self.record_path(i).unlink(missing_ok=True)
            for name in (*self.layout.arrays, *self.layout.tables):
                self.file_of(name, i).unlink(missing_ok=True)
