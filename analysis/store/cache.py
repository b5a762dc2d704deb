"""The analysis cache of one run, ``cache/<run>/``: the one place that knows its layout.

Why it looks like this:
- Every artefact has a *name* (``cams``, ``samples`` …) that stages declare as what they
  read and write; only this module maps names to files. Pages, stages and the CLI ask
  for ``cache.cams()`` or ``cache.array("cams")``, never for a file.
- Arrays are chunked and sharded by image (:mod:`.chunked`, zarr v3), so the dashboard
  opens a million-image cache instantly and decodes only the rows a page shows; the
  per-image stage writes them shard by shard, from one process or many
  (:mod:`.shards`), and long ones are written streaming and resumably
  (:class:`~analysis.store.arrays.StreamingArray`). Tables are parquet: one file, or a
  folder of parts (one per shard) that reads as one table.
- The manifest records the schema version and the fingerprints of the model file and of
  the dataset it was computed on; a reader compares them with the run and dataset as they
  are now and reports a stale or foreign cache instead of showing wrong pictures.
"""

from __future__ import annotations

from collections.abc import Sequence

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.store import chunked
from analysis.store.arrays import PARTIAL_SUFFIX, PROGRESS_SUFFIX, StreamingArray
from analysis.store.accessors import NamedArtefacts
from analysis.store.artefacts import ARTEFACTS, Artefact, artefact
from analysis.store.files import atomic_path, write_json_atomic
from analysis.store.names import NameBook
from analysis.store.shards import INCOMPLETE, ShardLayout, ShardSet
from analysis.store.tables import column_names, read_parquet, read_rows

SCHEMA_VERSION = 2  # 2: arrays chunked and sharded by image (zarr), per-image tables in parts
SHARDS_DIR = "shards"
# files inside the concepts folder (named here, and only here)
_BASIS_COMPONENTS = "components.npy"
_BASIS_INFO = "concepts.json"
MANIFEST_FILE = "manifest.json"
NAMES_FILE = "concept_names.json"  # what users named; kept when the cache is reset
LOCK_FILE = ".analysis.lock"  # held by the one `streetlens analyze` writing this cache


class CacheError(ValueError):
    """A cache that cannot be used; the message says what to do."""


def default_cache_root() -> Path:
    return Path(os.environ.get("STREETLENS_CACHE", "cache"))


class RunCache(NamedArtefacts):
    """``cache/<run>/`` with its manifest; cheap to create, reads on demand."""

    def __init__(self, root: Path | str, manifest: dict | None = None):
        self.root = Path(root)
        self._manifest = manifest or None

    @property
    def manifest(self) -> dict:
        """The manifest, read on first use (a million images' shard list is several MB of
        JSON: asking a cache where it lives or whether it exists does not parse it)."""
        if self._manifest is None:
            path = self.manifest_path
            try:
                self._manifest = json.loads(path.read_text()) if path.is_file() else {}
            except (ValueError, UnicodeDecodeError) as exc:
                raise CacheError(f"the analysis manifest {path} is unreadable ({exc}); delete it and run "
                                 f"`streetlens analyze {self.name}` again (finished shards are kept)") from None
        return self._manifest

    @manifest.setter
    def manifest(self, value: dict) -> None:
        self._manifest = value

    @classmethod
    def for_run(cls, run_name: str, cache_root: Path | str | None = None) -> "RunCache":
        return cls(Path(cache_root or default_cache_root()) / run_name)

    @property
    def name(self) -> str:
        return self.root.name

    # -- manifest --------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_FILE

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def save_manifest(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.manifest_path, self.manifest)

    def stage_record(self, stage: str) -> dict:
        return self.manifest.get("stages", {}).get(stage, {})

    def stage_done(self, stage: str) -> bool:
        return bool(self.stage_record(stage).get("done"))

    def mark_stage(self, stage: str, seconds: float, **info) -> None:
        self.manifest.setdefault("stages", {})[stage] = {"done": True, "seconds": round(seconds, 2), **info}
        self.save_manifest()

    def start_stage(self, stage: str, **info) -> None:
        """Record that ``stage`` is being computed (with its fingerprint), so that an
        interrupted run resumes only with the same settings."""
        self.manifest.setdefault("stages", {})[stage] = {"done": False, **info}
        self.save_manifest()

    def forget_stage(self, stage: str) -> None:
        self.manifest.get("stages", {}).pop(stage, None)

    def problems(self, model_fingerprint: str | None = None,
                 dataset_fingerprint: str | None = None) -> list[str]:
        """Why this cache should not be trusted as it is (empty when it is fine)."""
        if not self.exists():
            return [f"no analysis at {self.root}: run `streetlens analyze {self.name}`"]
        out = []
        m = self.manifest
        if m.get("schema") != SCHEMA_VERSION:
            out.append(f"cache schema {m.get('schema')} is not the current {SCHEMA_VERSION}: "
                       f"re-run `streetlens analyze {self.name}`")
        if model_fingerprint and m.get("model_fingerprint") != model_fingerprint:
            out.append("the model changed since this analysis (retrained?): "
                       f"re-run `streetlens analyze {self.name}`")
        if dataset_fingerprint and m.get("dataset_fingerprint") != dataset_fingerprint:
            out.append("the dataset changed since this analysis (images, labels or splits): "
                       f"re-run `streetlens analyze {self.name}`")
        return out

    @contextmanager
    def writing(self):
        """Held while an analysis writes this cache: a second one (another terminal, a
        dashboard job) is refused at once instead of interleaving its writes."""
        from filelock import FileLock, Timeout

        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / LOCK_FILE))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise CacheError(f"another analysis is writing {self.root} right now: wait for it to finish "
                             "(its progress is in its terminal or the dashboard), then run this again") from None
        try:
            yield self
        finally:
            lock.release()

    # -- any artefact by name ---------------------------------------------------------------
    def artefact(self, name: str) -> Artefact:
        """Artefact ``name``: a built-in one, one a stage module declared in this process,
        or one this cache's manifest describes (a reader need not import the stage that
        declared it)."""
        if name in ARTEFACTS:
            return ARTEFACTS[name]
        known = self.manifest.get("artefacts", {}).get(name)
        if known:
            return Artefact(name, known["file"], known["kind"], known.get("doc", ""))
        return artefact(name)  # the one clear KeyError

    def record_artefacts(self, names) -> None:
        """Describe artefacts ``names`` in the manifest (file, kind), so every reader knows them."""
        described = self.manifest.setdefault("artefacts", {})
        for name in names:
            a = self.artefact(name)
            described[name] = {"file": a.file, "kind": a.kind, "doc": a.doc}
        self.save_manifest()

    def path(self, name: str) -> Path:
        """Where artefact ``name`` lives (for its modification time, or a folder to fill)."""
        return self.root / self.artefact(name).file

    def has(self, name: str) -> bool:
        """Whether artefact ``name`` is in the cache, complete (False for one nobody declared)."""
        try:
            p = self.path(name)
        except KeyError:
            return False
        if name == "concept_basis":
            return (p / _BASIS_COMPONENTS).is_file() and (p / _BASIS_INFO).is_file()
        kind = self.artefact(name).kind
        if kind == "array":
            return chunked.exists(p) and not (p / INCOMPLETE).exists()
        if kind == "table":
            return p.is_file() or (p.is_dir() and not (p / INCOMPLETE).exists())
        return p.is_dir()

    def mtime(self, name: str) -> float:
        """Modification time of artefact ``name`` (0 when absent): a key for readers' caches."""
        if not self.has(name):
            return 0.0
        p = self.path(name)
        if name == "concept_basis":
            p = p / _BASIS_COMPONENTS
        if self.artefact(name).kind == "array":
            return chunked.mtime(p)
        return p.stat().st_mtime if p.exists() else 0.0

    def remove(self, name: str) -> None:
        p = self.path(name)
        if name == "concept_basis":  # the folder also holds the patch pictures
            for f in (_BASIS_COMPONENTS, _BASIS_INFO):
                (p / f).unlink(missing_ok=True)
            return
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
        for suffix in (PARTIAL_SUFFIX, PROGRESS_SUFFIX):
            extra = p.with_name(p.name + suffix)
            shutil.rmtree(extra) if extra.is_dir() else extra.unlink(missing_ok=True)

    def _missing(self, name: str) -> CacheError:
        return CacheError(f"{self.path(name)} is missing: run `streetlens analyze {self.name}`")

    def array(self, name: str) -> chunked.ShardedArray:
        """Array artefact ``name``, read lazily: index it (``a[rows]``) for numpy rows."""
        self._check_kind(name, "array")
        if not self.has(name):
            raise self._missing(name)
        return chunked.ShardedArray(self.path(name))

    def streaming(self, name: str, shape, dtype, key: dict) -> StreamingArray:
        self._check_kind(name, "array")
        self.root.mkdir(parents=True, exist_ok=True)
        return StreamingArray(self.path(name), shape, dtype, key, self.shard_rows)

    def write_array(self, name: str, values: np.ndarray) -> None:
        self._check_kind(name, "array")
        self.root.mkdir(parents=True, exist_ok=True)
        chunked.write_whole(self.path(name), np.asarray(values), self.shard_rows)

    @property
    def shard_rows(self) -> int:
        """Images per shard of this cache (the manifest's, else the default)."""
        return int(self.manifest.get("shard_rows") or chunked.SHARD_ROWS)

    def shard_set(self, stage: str, layout: ShardLayout | None = None, made_from: dict | None = None) -> ShardSet:
        """The shards of ``stage``'s per-image output. A writer passes the ``layout``; another
        process (a Ray worker, a checker) finds it in the cache."""
        records = self.root / SHARDS_DIR / stage
        if layout is None:
            layout = ShardLayout.from_json(json.loads((records / "layout.json").read_text()))
        made_from = made_from if made_from is not None else {
            k: self.manifest.get(k) for k in ("model_fingerprint", "dataset_fingerprint")}
        paths = {name: self.path(name) for name in (*layout.arrays, *layout.tables)}
        return ShardSet(records, paths, layout, made_from)

    def table(self, name: str, categorical: Sequence[str] = ()) -> pd.DataFrame:
        self._check_kind(name, "table")
        if not self.has(name):
            raise self._missing(name)
        return read_parquet(self.path(name), categorical=categorical)

    def write_table(self, name: str, df: pd.DataFrame) -> None:
        self._check_kind(name, "table")
        if self.path(name).is_dir():  # a table once written in parts
            shutil.rmtree(self.path(name))
        with atomic_path(self.path(name)) as tmp:
            df.to_parquet(tmp, index=False)

    def _check_kind(self, name: str, kind: str) -> None:
        if self.artefact(name).kind != kind:
            raise TypeError(f"artefact {name!r} is a {self.artefact(name).kind}, not a {kind}")

    # -- parts of a table ---------------------------------------------------------------
    def table_columns(self, name: str, columns: list[str], categorical: Sequence[str] = ()) -> pd.DataFrame:
        """Only ``columns`` of table ``name`` (parquet reads just those)."""
        self._check_kind(name, "table")
        if not self.has(name):
            raise self._missing(name)
        return read_parquet(self.path(name), columns=columns, categorical=categorical)

    def table_column_names(self, name: str) -> list[str]:
        """The columns table ``name`` has (its schema only; nothing else is read)."""
        self._check_kind(name, "table")
        if not self.has(name):
            raise self._missing(name)
        return column_names(self.path(name))

    def table_rows(self, name: str, rows, columns: list[str] | None = None) -> pd.DataFrame:
        """The records of cache rows ``rows`` (in that order) of per-image table ``name``:
        from the shards that hold them when the table is written in shards, else from the
        table read whole (only ``columns`` and ``row``)."""
        self._check_kind(name, "table")
        if not self.has(name):
            raise self._missing(name)
        return read_rows(self.path(name), rows, self.shard_rows, columns)

    # -- the concept basis: two files in the concepts folder --------------------------------
    def read_concept_basis(self) -> tuple[np.ndarray, dict]:
        """``(components, info)`` as :meth:`write_concept_basis` stored them."""
        folder = self.path("concept_basis")
        comp, info = folder / _BASIS_COMPONENTS, folder / _BASIS_INFO
        if not comp.is_file() or not info.is_file():
            raise FileNotFoundError(f"no concept basis in {folder}; run the concepts stage of "
                                    f"`streetlens analyze {self.name}`")
        return np.load(comp, allow_pickle=False), json.loads(info.read_text())

    def write_concept_basis(self, components: np.ndarray, info: dict) -> None:
        folder = self.path("concept_basis")
        with atomic_path(folder / _BASIS_COMPONENTS) as tmp, open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(components, dtype=np.float32), allow_pickle=False)
        write_json_atomic(folder / _BASIS_INFO, info)

    # -- one file per item --------------------------------------------------------------
    def patch_path(self, concept: int, rank: int) -> Path:
        """Picture of concept ``concept``'s top patch number ``rank``."""
        return self.path("concept_patch_images") / f"c{concept:02d}_{rank:02d}.png"

    def featvis_path(self, kind: str, index: int) -> Path:
        """Feature visualisation of a concept direction or of a channel."""
        if kind == "concept":
            return self.path("featvis_images") / f"concept_{index:02d}.png"
        if kind == "channel":
            return self.path("featvis_images") / f"channel_{index:04d}.png"
        raise ValueError(f"feature visualisations are of a 'concept' or a 'channel', not {kind!r}")

    def atlas_featvis_path(self, cell: int, digest: str) -> Path:
        """Feature visualisation of atlas cell ``cell``'s mean activation; ``digest`` names the
        direction and settings it was rendered for, so a changed atlas never shows a stale one."""
        return self.path("atlas_featvis") / f"cell_{int(cell):05d}_{digest}.png"

    def ondemand_path(self, method: str, image_id: str, head: str, index: int) -> Path:
        """Where the on-demand map of ``method`` for (``head``, ``index``) of an image lives."""
        if head not in ("city", "group"):
            raise ValueError(f"head must be 'city' or 'group', got {head!r}")
        safe = str(image_id).replace("/", "_")
        return self.path("ondemand") / method / f"{safe}_{head}_{int(index)}.npy"

    def relative(self, path: Path) -> str:
        """``path`` as tables record it (relative to the cache folder, POSIX separators)."""
        return Path(path).relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        """A file a table records (``relative``) as a path."""
        return self.root / relative

    def names(self) -> NameBook:
        """The concept names users gave (kept across re-analyses; see :mod:`.names`)."""
        return NameBook(self.root / NAMES_FILE)

    def reset(self) -> None:
        """Remove everything but the users' concept names (a foreign or outdated cache is
        recomputed from scratch; the names find their concepts again by direction)."""
        if self.root.is_dir():
            for p in self.root.iterdir():
                if p.name in (NAMES_FILE, NAMES_FILE + ".lock", LOCK_FILE):
                    continue
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        self.manifest = {}
