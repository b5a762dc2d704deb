"""The dataset: a folder per class plus the image table, one row per image.

The table is the single source of truth for which images exist, their class, group,
split and provenance; the Curate page and every later stage read it. It is always
written atomically, so a crash never leaves a half-written table.

Every read-modify-write of the table (import, synth, collect, split, curation decisions)
happens inside ``with ds.locked():`` — an exclusive ``flock`` on a lock file beside the
table — and re-reads the table there, so two writers (an import and a browser tab,
two tabs, two threads) never overwrite each other's changes. Hold it briefly: do slow
work (decoding, downloading) before taking it, and only merge and write inside.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.classes import read_classes_toml
from analysis.store import DatasetFiles, atomic_path, default_data_root, write_json_atomic

SPLITS = ("train", "val", "test")
TABLE_ROW_GROUP = 65_536
"""Rows per parquet row group of the image table: a page that shows a few images reads the
values of their row groups only (``values_at``), not a million-row column (pyarrow's default
puts up to 1,048,576 rows in one group)."""

COLUMNS: dict[str, str] = {
    "id": "string",  # first 16 hex digits of the source file's sha256
    "path": "string",  # relative to the dataset root: <class>/<id>.<ext>
    "class": "string",
    "group": "string",  # coarse group, e.g. East/West
    "split": "string",  # train / val / test
    "width": "int64",
    "height": "int64",
    "sha256": "string",  # of the source bytes: re-imports recognise a file
    "phash": "string",  # 64-bit perceptual hash, hex
    "group_id": "string",  # images sharing it never straddle splits
    "source": "string",  # original path or URL
    "licence": "string",
    "curated": "string",  # unreviewed / accepted / rejected
    "added": "string",  # ISO time of import
}
REJECT_COLUMNS: dict[str, str] = {
    "source": "string",
    "class": "string",
    "reason": "string",
    "kind": "string",  # rejected / duplicate / warning
    "duplicate_of": "string",
    "time": "string",
}


class DatasetError(ValueError):
    """A dataset that cannot be used as asked; the message says what to do."""


class DatasetBusy(DatasetError):
    """Another writer has held the dataset's table lock for longer than we would wait."""


_held = threading.local()  # lock files this thread holds → depth (``locked`` is re-entrant)


def empty_frame(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})


def conform(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Columns in schema order and dtype; extra columns (e.g. from the crawler) kept."""
    df = df.copy()
    for col, dtype in columns.items():
        if col not in df:
            df[col] = pd.Series([pd.NA] * len(df), dtype=dtype, index=df.index)
        else:
            df[col] = df[col].astype(dtype)
    extra = [c for c in df.columns if c not in columns]
    return df[list(columns) + extra].reset_index(drop=True)


@dataclass(frozen=True)
class Dataset:
    """A dataset folder. Cheap to create; reads happen on demand."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))  # accept str from Python callers

    @classmethod
    def open(cls, name_or_path: str | Path, data_root: Path | None = None) -> "Dataset":
        """A dataset by name (``data/<name>``) or by path (anything with a slash)."""
        text = str(name_or_path)
        if os.sep in text or "/" in text or Path(text).is_absolute():
            return cls(Path(text))
        return cls(Path(data_root or default_data_root()) / text)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def files(self) -> DatasetFiles:
        """Every file of the dataset folder (the layout lives in ``analysis.store``)."""
        return DatasetFiles(self.root)

    @property
    def table_path(self) -> Path:
        return self.files.table

    @property
    def rejects_path(self) -> Path:
        return self.files.rejects

    @property
    def lock_path(self) -> Path:
        return self.files.lock

    def exists(self) -> bool:
        return self.table_path.is_file()

    @contextmanager
    def locked(self, timeout: float = 30.0) -> Iterator[None]:
        """Exclusive lock on the dataset's tables (images and rejects) for a
        read-modify-write::

            with ds.locked():
                table = ds.read_or_empty()  # re-read inside: changes made meanwhile are kept
                ...
                ds.write(table)

        An ``flock`` on a lock file beside the table: it excludes other processes and,
        since each call opens the file anew, other threads of this process too. Nested
        use in one thread is re-entrant. Raises :class:`DatasetBusy` after ``timeout``
        seconds of waiting."""
        key = str(self.lock_path.absolute())
        depth = getattr(_held, "depth", None)
        if depth is None:
            depth = _held.depth = {}
        if depth.get(key):
            depth[key] += 1
            try:
                yield
            finally:
                depth[key] -= 1
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o664)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise DatasetBusy(
                            f"{self.table_path} has been locked by another writer for "
                            f"{timeout:.0f} s; retry, or remove {self.lock_path} if no "
                            "streetlens process runs") from None
                    time.sleep(0.005)
            depth[key] = 1
            try:
                yield
            finally:
                depth.pop(key, None)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def read(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The image table (only ``columns`` of the schema when given: a million rows' paths
        and ids take seconds to read); a clear error when the folder is not a dataset."""
        if not self.exists():
            raise DatasetError(
                f"{self.root} is not a streetlens dataset (no {self.table_path.name}); create it with "
                f"`streetlens data import SRC --dataset {self.name}` or `streetlens data synth`"
            )
        schema = COLUMNS if columns is None else {c: COLUMNS[c] for c in columns}
        try:
            if columns is None:
                return conform(pd.read_parquet(self.table_path), schema)
            import pyarrow.parquet as pq

            present = [c for c in columns if c in pq.read_schema(self.table_path).names]
            return conform(pd.read_parquet(self.table_path, columns=present), schema)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise self._unreadable(exc) from exc

    def _unreadable(self, exc: Exception) -> DatasetError:
        return DatasetError(f"{self.table_path} is unreadable ({exc}); re-run the import")

    def paths_at(self, positions) -> list[str]:
        """The ``path`` of the table's rows at ``positions`` (that order), taken in arrow: a
        page that shows a few images of a million-row table does not turn every path into a
        Python string (0.3 s)."""
        return [str(p) for p in self.values_at("path", positions)]

    def values_at(self, column: str, positions=None, ids=None) -> list:
        """Column ``column`` of the rows at ``positions``, or of the rows whose ``id`` is in
        ``ids`` (that order; None for an id not in the table), taken in arrow: one value of a
        million-row column without converting the column (its ``source`` took 0.45 s).
        By position only the row groups that hold them are read (``TABLE_ROW_GROUP``)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        if ids is None and positions is None:
            raise TypeError("values_at needs positions or ids")
        try:
            if ids is None:
                with pq.ParquetFile(self.table_path) as pf:
                    return self._values_by_position(pf, column, positions)
            table = pq.read_table(self.table_path, columns=[column, "id"])
        except IndexError:
            raise
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise self._unreadable(exc) from exc
        found = pc.index_in(pa.array([str(i) for i in ids], pa.large_string()),
                            value_set=table.column("id").combine_chunks().cast(pa.large_string()))
        values = table.column(column).take(found.fill_null(0)).to_pylist()
        return [v if ok else None for v, ok in zip(values, found.is_valid().to_pylist())]

    def _values_by_position(self, pf, column: str, positions) -> list:
        """``column`` at ``positions`` from just the row groups of ``pf`` that hold them."""
        import numpy as np
        import pyarrow as pa

        meta = pf.metadata
        bounds = np.cumsum([0, *(meta.row_group(g).num_rows for g in range(meta.num_row_groups))])
        pos = np.asarray(list(positions), dtype=np.int64)
        if pos.size and (pos.min() < 0 or pos.max() >= bounds[-1]):
            raise IndexError(f"row positions {int(pos.min())}..{int(pos.max())} outside the {int(bounds[-1])} "
                             f"rows of {self.table_path}")
        group = np.searchsorted(bounds, pos, side="right") - 1
        groups = np.unique(group)
        sizes = bounds[groups + 1] - bounds[groups]
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])  # of each read group in the read table
        local = offset[np.searchsorted(groups, group)] + (pos - bounds[group])
        table = pf.read_row_groups(groups.tolist(), columns=[column])
        return table.column(column).take(pa.array(local, pa.int64())).to_pylist()

    def read_or_empty(self) -> pd.DataFrame:
        return self.read() if self.exists() else empty_frame(COLUMNS)

    def write(self, df: pd.DataFrame) -> None:
        """Replace the table atomically. A caller that read the table first must hold
        :meth:`locked` across the read and this write."""
        with atomic_path(self.table_path) as tmp:
            conform(df, COLUMNS).to_parquet(tmp, index=False, row_group_size=TABLE_ROW_GROUP)

    def read_rejects(self) -> pd.DataFrame:
        if not self.rejects_path.is_file():
            return empty_frame(REJECT_COLUMNS)
        return conform(pd.read_parquet(self.rejects_path), REJECT_COLUMNS)

    def write_rejects(self, df: pd.DataFrame) -> None:
        with atomic_path(self.rejects_path) as tmp:
            conform(df, REJECT_COLUMNS).to_parquet(tmp, index=False)

    def group_overrides(self) -> dict[str, str]:
        return read_classes_toml(self.files.classes)

    def image_path(self, rel: str) -> Path:
        return self.root / rel

    def usable(self) -> pd.DataFrame:
        """Images that take part in training and analysis (not rejected by curation)."""
        df = self.read()
        return df[df["curated"].fillna("unreviewed") != "rejected"].reset_index(drop=True)

    def usable_fingerprint(self) -> str:
        """``fingerprint(self.usable())``, remembered beside the table for the table's state
        (inode, size, modification time): the dashboard checks every analysis against it
        when a server starts, and at a million images reading and hashing the table took
        3.7 s. Any write replaces the table (a new inode), so a remembered value never
        outlives the rows it was computed from."""
        st = self.table_path.stat()
        state = [st.st_ino, st.st_size, st.st_mtime_ns]
        memo = self.files.fingerprint_memo
        try:
            saved = json.loads(memo.read_text())
            if saved["table"] == state and isinstance(saved["usable"], str):
                return saved["usable"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        value = fingerprint(self.usable())
        try:
            write_json_atomic(memo, {"table": state, "usable": value})
        except OSError:  # a read-only dataset: computed each time
            pass
        return value


def list_datasets(data_root: Path | None = None) -> list[Dataset]:
    """The datasets under ``data_root`` (default ``$STREETLENS_DATA`` or ``./data``), by name."""
    return [Dataset(f.root) for f in DatasetFiles.all_in(data_root or default_data_root())]


def fingerprint(df: pd.DataFrame) -> str:
    """A short hash of what a model saw: image ids with their class and split. Any change
    of membership, label or split changes it, so stale caches and runs are detected."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = df.loc[:, ["id", "class", "split"]].astype(str).sort_values("id")
    # "\n".join("\t".join(row) for row in rows), built by arrow: 0.3 s for a million rows, not 4 s
    lines = pc.binary_join_element_wise(*(pa.array(cols[c].to_numpy(dtype=object), pa.string())
                                          for c in ("id", "class", "split")), "\t")
    text = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), "\n")[0].as_py()
    return hashlib.sha256(text.encode()).hexdigest()[:16]
