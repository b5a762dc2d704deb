"""``streetlens data import SRC --dataset NAME``: bring a folder of class folders into a
dataset, checking and cleaning every file on the way.

The per-file work (:func:`analysis.data.examine.examine_file`) runs in local processes or,
with ``engine="ray"``, on Ray Data (:mod:`analysis.data.ray_import`); deduplication, the
stored files and the table are done here, in file order, for both alike.

Nothing in SRC aborts the import except a class without a group (checked before any
file is touched): corrupt, truncated, tiny, bomb and non-image files are skipped and
reported, near-duplicates keep their first copy. Re-running is incremental: files whose
bytes are already in the dataset are skipped, so a second run adds nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import pandas as pd

from analysis.classes import resolve_groups, write_classes_toml
from analysis.data import dedupe
from analysis.data.dataset import Dataset, DatasetError
from analysis.data.examine import FileResult, examine_file
from analysis.data.images import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE
from analysis.data.split import DEFAULT_FRACTIONS, GROUP_THRESHOLD, assign_splits, split_groups
from analysis.progress import bar as progress_bar
from analysis.store import write_bytes_atomic


@dataclass
class ImportOptions:
    min_side: int = DEFAULT_MIN_SIDE
    max_pixels: int = DEFAULT_MAX_PIXELS
    crop_borders: bool = True
    dup_threshold: int = dedupe.DEFAULT_THRESHOLD
    group_threshold: int = GROUP_THRESHOLD
    group_pattern: str | None = None
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    seed: int = 0
    licence: str = ""
    workers: int = 0  # 0: one per core (at most 4)

    def clean_kwargs(self) -> dict:
        """The options of the per-file work (:func:`examine_file`)."""
        return dict(min_side=self.min_side, max_pixels=self.max_pixels, crop_borders=self.crop_borders)


def reject_lines(rejected: list[tuple[str, str]], duplicates: list[tuple[str, str, int]],
                 rejects_path: Path) -> list[str]:
    """What a report says about the files it left out: the first rejects and near-duplicates
    one per line, and where the rest are listed."""
    out = [f"  rejected {src}: {why}" for src, why in rejected[:20]]
    if len(rejected) > 20:
        out.append(f"  … {len(rejected) - 20} more rejects in {rejects_path}")
    out += [f"  duplicate {src} ~ {kept} (distance {d})" for src, kept, d in duplicates[:10]]
    if len(duplicates) > 10:
        out.append(f"  … {len(duplicates) - 10} more duplicates in {rejects_path}")
    return out


@dataclass
class ImportReport:
    """What an import did; ``lines()`` is what the CLI prints."""

    dataset: Path
    added: int = 0
    already_present: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str, int]] = field(default_factory=list)  # source, kept id, dist
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    files_seen: int = 0

    @property
    def images_per_second(self) -> float:
        return self.files_seen / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        out = [
            f"dataset {self.dataset}: {self.added} added, {self.already_present} already present, "
            f"{len(self.duplicates)} near-duplicates skipped, {len(self.rejected)} rejected "
            f"({self.files_seen} files in {self.seconds:.1f} s, {self.images_per_second:.0f} files/s)"
        ]
        out += [f"  warning: {w}" for w in self.warnings]
        return out + reject_lines(self.rejected, self.duplicates, Dataset(self.dataset).rejects_path)


_Decoded = FileResult  # its former name, for older callers


def _examine_job(job: tuple[str, str], clean: dict) -> FileResult:
    return examine_file(job[0], job[1], **clean)


def scan_source(src: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """Class folder → files (recursively, sorted), plus warnings about the layout."""
    if not src.is_dir():
        raise DatasetError(f"{src} is not a folder: expected SRC/<class>/<images>")
    warnings: list[str] = []
    classes: dict[str, list[Path]] = {}
    loose = 0
    for entry in sorted(src.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
            if files:
                classes[entry.name] = files
            else:
                warnings.append(f"class folder '{entry.name}' is empty: skipped")
        elif entry.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}:
            loose += 1
    if loose:
        warnings.append(f"{loose} image(s) directly in {src} ignored: put them in a class folder")
    if not classes:
        raise DatasetError(
            f"{src} has no class folders with files: expected SRC/<class>/<images>, "
            "e.g. SRC/tokyo/001.jpg"
        )
    return classes, warnings


def examined(files: list[tuple[str, str]], opts: ImportOptions, engine: str = "local",
             address: str | None = None) -> Iterator[FileResult]:
    """:func:`examine_file` of every (source, class) in ``files``, in order, on ``engine``:
    ``local`` (a process pool of ``opts.workers``) or ``ray`` (Ray Data, see
    :mod:`analysis.data.ray_import`)."""
    if engine == "ray":
        from analysis.data.ray_import import ray_examined  # Ray only when asked for

        yield from ray_examined(files, opts.clean_kwargs(), address=address)
        return
    if engine != "local":
        raise ValueError(f"unknown engine {engine!r}: choose local or ray")
    job = partial(_examine_job, clean=opts.clean_kwargs())
    workers = opts.workers or min(4, os.cpu_count() or 1)
    if workers <= 1 or len(files) < 16:
        yield from map(job, files)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(job, files, chunksize=8)


ROW_CHUNK = 4096


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def register_images(
    dataset: Dataset,
    decoded: Iterable[FileResult],
    groups: dict[str, str],
    opts: ImportOptions,
    report: ImportReport,
    total: int | None = None,
    progress: bool = True,
    source_columns: dict[str, dict] | None = None,
) -> None:
    """Write decoded images into ``dataset`` and update its table: exact and near
    duplicates skipped, group ids and splits assigned. Shared by import and synth."""
    table = dataset.read_or_empty()
    # sha256 -> (id, source) of every image already kept: identical bytes from another
    # source are duplicates, from the same source simply "already present"
    known_sha = {sha: (i, src) for sha, i, src in zip(table["sha256"], table["id"], table["source"])}
    hashes = dedupe.HashIndex(opts.dup_threshold)  # grows with every accepted image
    hashes.add(list(table["phash"].fillna("0")))
    ids = list(table["id"])
    rejects: list[dict] = []
    rows: list[dict] = []  # the newest accepted rows; older ones wait as compact frames
    frames: list[pd.DataFrame] = []
    for item in progress_bar(decoded, total=total, desc="import", unit="img", disable=not progress):
        report.files_seen += 1
        if item.error:
            report.rejected.append((item.source, item.error))
            rejects.append(dict(source=item.source, **{"class": item.cls}, reason=item.error,
                                kind="rejected", time=_now()))
            continue
        if item.sha256 in known_sha:
            kept, kept_source = known_sha[item.sha256]
            if kept_source == item.source or kept is None:
                report.already_present += 1
            else:
                report.duplicates.append((item.source, kept, 0))
                rejects.append(dict(source=item.source, **{"class": item.cls},
                                    reason=f"identical to {kept}", kind="duplicate",
                                    duplicate_of=kept, time=_now()))
            continue
        near = hashes.nearest([item.phash])[0]
        if near is not None:
            kept, dist = ids[near[0]], near[1]
            report.duplicates.append((item.source, kept, dist))
            rejects.append(dict(source=item.source, **{"class": item.cls},
                                reason=f"near-duplicate of {kept} (pHash distance {dist})",
                                kind="duplicate", duplicate_of=kept, time=_now()))
            known_sha[item.sha256] = (kept, None)
            continue
        image_id = item.sha256[:16]
        rel = item.rel or f"{item.cls}/{image_id}{item.ext}"
        if not item.rel:
            write_bytes_atomic(dataset.root / rel, item.data)
        row = {
            "id": image_id, "path": rel, "class": item.cls, "group": groups[item.cls],
            "split": None, "width": item.width, "height": item.height,
            "sha256": item.sha256, "phash": item.phash, "group_id": None,
            "source": item.source, "licence": opts.licence, "curated": "unreviewed",
            "added": _now(),
        }
        row.update((source_columns or {}).get(item.source, {}))
        rows.append(row)
        if len(rows) >= ROW_CHUNK:  # millions of dicts would dwarf the table they become
            frames.append(pd.DataFrame(rows))
            rows = []
        known_sha[item.sha256] = (image_id, item.source)
        hashes.add([item.phash])
        ids.append(image_id)
        report.added += 1

    # Decoding took a while and the table may have changed since it was read above
    # (curation decisions, another import): merge the new rows into a fresh read, under
    # the table lock, so nothing written meanwhile is lost.
    if rows:
        frames.append(pd.DataFrame(rows))
    new = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    with dataset.locked():
        table = dataset.read_or_empty()
        present = set(table["id"].astype(str))
        fresh = new[~new["id"].isin(present)] if len(new) else new
        if len(fresh) < len(new):  # added by a concurrent import in the meantime
            report.added -= len(new) - len(fresh)
            report.already_present += len(new) - len(fresh)
        if len(fresh):
            table = pd.concat([table, fresh], ignore_index=True)
        if len(fresh) or not dataset.exists():
            table["group_id"] = split_groups(table, opts.group_threshold, opts.group_pattern)
            table["split"] = assign_splits(table, opts.fractions, opts.seed, keep_existing=True)
            dataset.write(table)
        if rejects:
            old = dataset.read_rejects()
            merged = pd.concat([old, pd.DataFrame(rejects)], ignore_index=True)
            dataset.write_rejects(merged.drop_duplicates(["source", "reason"], keep="last"))


def import_folder(
    src: Path,
    dataset: Dataset,
    *,
    groups: dict[str, str] | None = None,
    options: ImportOptions | None = None,
    progress: bool = True,
    extra_columns: dict[str, dict] | None = None,
    engine: str = "local",
    address: str | None = None,
) -> ImportReport:
    """Import ``src`` (a folder per class) into ``dataset``; see the module docstring.

    ``engine`` says where the per-file work runs: ``local`` (a process pool) or ``ray``
    (Ray Data on a local cluster on 127.0.0.1, or the cluster at ``address``: ``auto`` or
    HOST:PORT); the report and the table are the same either way.

    ``extra_columns`` maps a source file's resolved path to more columns for its row
    (the crawler records URL, engine, query and licence filter this way); a ``source``
    entry there replaces the file path as the recorded source."""
    opts = options or ImportOptions()
    started = time.perf_counter()
    src = Path(src)
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r}: choose local or ray")
    if engine == "ray" and address not in (None, "auto"):
        from analysis.cluster import check_address

        check_address(address)  # a wrong address is told at once, not after the scan
    classes, warnings = scan_source(src)
    # groups are checked before anything is written: an unknown class aborts cleanly
    resolved = resolve_groups(classes, src, dataset.root, extra=groups)
    existing = dataset.read_or_empty()
    clash = {
        c: g for c, g in zip(existing["class"], existing["group"])
        if c in resolved and resolved[c].group != g
    }
    if clash:
        c = next(iter(clash))
        raise DatasetError(
            f"class '{c}' is in group {clash[c]} in {dataset.root} but {resolved[c].group} here; "
            f"make {dataset.files.classes.name} agree"
        )
    report = ImportReport(dataset.root, warnings=warnings)
    files = [(str(p.resolve()), cls) for cls, paths in classes.items() for p in paths]
    del classes  # the Path objects: only the strings travel on
    with _session(engine, address):  # connected (or told why not) before anything is written
        dataset.root.mkdir(parents=True, exist_ok=True)
        group_of = {c: g.group for c, g in resolved.items()}
        known = dict(dataset.group_overrides())
        if any(known.get(c) != g for c, g in group_of.items()):
            write_classes_toml(dataset.files.classes, {**known, **group_of})
        register_images(dataset, examined(files, opts, engine, address), group_of, opts, report,
                        total=len(files), progress=progress, source_columns=extra_columns)
    report.seconds = time.perf_counter() - started
    return report


def _session(engine: str, address: str | None) -> AbstractContextManager:
    if engine != "ray":
        return nullcontext()
    from analysis.cluster import ray_session  # Ray only when asked for

    return ray_session(address)

