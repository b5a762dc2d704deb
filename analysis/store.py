"""The analysis cache of one run: ``cache/<run>/``.

Why it looks like this:
- Arrays are ``.npy`` files opened as memory maps, so the dashboard opens a 4,000-image
  cache instantly and reads only the rows a page shows.
- Long arrays are written *streaming* into ``<name>.npy.partial`` with a progress file
  (rows done) updated after each flushed batch; the final name appears only by an atomic
  rename once complete. A killed analysis resumes where it stopped, and a reader never
  sees a half-written artefact under its final name.
- ``manifest.json`` records the schema version and the fingerprints of the model file
  and of the dataset it was computed on; a reader compares them with the run and dataset
  as they are now and reports a stale or foreign cache instead of showing wrong pictures.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.fileio import atomic_path, write_json_atomic

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


class CacheError(ValueError):
    """A cache that cannot be used; the message says what to do."""


def default_cache_root() -> Path:
    return Path(os.environ.get("STREETLENS_CACHE", "cache"))


def file_fingerprint(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


class StreamingArray:
    """An (N, …) array filled batch by batch, resumable after a crash.

    ``start`` is the number of rows already on disk; write rows from there on with
    :meth:`write`, then :meth:`finish` renames the file into place."""

    def __init__(self, target: Path, shape: tuple[int, ...], dtype: str, key: dict):
        self.target, self.shape, self.dtype = Path(target), tuple(shape), np.dtype(dtype)
        self.partial = self.target.with_name(self.target.name + ".partial")
        self.progress = self.target.with_name(self.target.name + ".progress.json")
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


@dataclass
class AnalysisCache:
    """``cache/<run>/`` with its manifest; cheap to create, reads on demand."""

    root: Path
    manifest: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not self.manifest and (self.root / MANIFEST).is_file():
            self.manifest = json.loads((self.root / MANIFEST).read_text())

    @classmethod
    def for_run(cls, run_name: str, cache_root: Path | None = None) -> "AnalysisCache":
        return cls(Path(cache_root or default_cache_root()) / run_name)

    # -- manifest ------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.root / MANIFEST).is_file()

    def save_manifest(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.root / MANIFEST, self.manifest)

    def stage_done(self, stage: str) -> bool:
        return bool(self.manifest.get("stages", {}).get(stage, {}).get("done"))

    def mark_stage(self, stage: str, seconds: float, **info) -> None:
        self.manifest.setdefault("stages", {})[stage] = {"done": True, "seconds": round(seconds, 2), **info}
        self.save_manifest()

    def problems(self, model_fingerprint: str | None = None,
                 dataset_fingerprint: str | None = None) -> list[str]:
        """Why this cache should not be trusted as it is (empty when it is fine)."""
        if not self.exists():
            return [f"no analysis at {self.root}: run `streetlens analyze {self.root.name}`"]
        out = []
        m = self.manifest
        if m.get("schema") != SCHEMA_VERSION:
            out.append(f"cache schema {m.get('schema')} is not the current {SCHEMA_VERSION}: "
                       f"re-run `streetlens analyze {self.root.name}`")
        if model_fingerprint and m.get("model_fingerprint") != model_fingerprint:
            out.append("the model changed since this analysis (retrained?): "
                       f"re-run `streetlens analyze {self.root.name}`")
        if dataset_fingerprint and m.get("dataset_fingerprint") != dataset_fingerprint:
            out.append("the dataset changed since this analysis (images, labels or splits): "
                       f"re-run `streetlens analyze {self.root.name}`")
        return out

    # -- arrays and tables ------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.root / name

    def has(self, name: str) -> bool:
        return (self.root / name).is_file()

    def array(self, name: str) -> np.ndarray:
        """A read-only memory map of ``name`` (e.g. ``cams.npy``)."""
        path = self.root / name
        if not path.is_file():
            raise CacheError(f"{path} is missing: run `streetlens analyze {self.root.name}`")
        return np.load(path, mmap_mode="r")

    def streaming(self, name: str, shape, dtype, key: dict) -> StreamingArray:
        self.root.mkdir(parents=True, exist_ok=True)
        return StreamingArray(self.root / name, shape, dtype, key)

    def write_array(self, name: str, values: np.ndarray) -> None:
        with atomic_path(self.root / name) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, values)

    def table(self, name: str) -> pd.DataFrame:
        path = self.root / name
        if not path.is_file():
            raise CacheError(f"{path} is missing: run `streetlens analyze {self.root.name}`")
        return pd.read_parquet(path)

    def write_table(self, name: str, df: pd.DataFrame) -> None:
        with atomic_path(self.root / name) as tmp:
            df.to_parquet(tmp, index=False)

    def write_json(self, name: str, obj) -> None:
        write_json_atomic(self.root / name, obj)

    def read_json(self, name: str):
        return json.loads((self.root / name).read_text())

    def subdir(self, name: str) -> Path:
        p = self.root / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def reset(self) -> None:
        """Remove everything (a foreign or outdated cache is recomputed from scratch)."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.manifest = {}


def batched(n: int, batch_size: int, start: int = 0) -> Iterator[tuple[int, int]]:
    for s in range(start, n, batch_size):
        yield s, min(n, s + batch_size)
