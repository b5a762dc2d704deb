"""``streetlens data import SRC --dataset NAME``: bring a folder of class folders into a
dataset, checking and cleaning every file on the way.

Nothing in SRC aborts the import except a class without a group (checked before any
file is touched): corrupt, truncated, tiny, bomb and non-image files are skipped and
reported, near-duplicates keep their first copy. Re-running is incremental: files whose
bytes are already in the dataset are skipped, so a second run adds nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from analysis.classes import resolve_groups, write_classes_toml
from analysis.data import dedupe
from analysis.data.dataset import Dataset, DatasetError
from analysis.data.images import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SIDE,
    LOSSLESS_FORMATS,
    ImageRejected,
    load_clean,
)
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


@dataclass
class _Decoded:
    """A worker's result for one file (picklable, so decoding runs in parallel)."""

    source: str
    cls: str
    sha256: str
    error: str | None = None
    data: bytes = b""
    ext: str = ""
    width: int = 0
    height: int = 0
    phash: str = ""
    cropped: bool = False
    rel: str = ""  # set when the file already lies in the dataset (synthetic images)


def _decode(job: tuple[str, str, ImportOptions]) -> _Decoded:
    source, cls, opts = job
    path = Path(source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return _Decoded(source, cls, "", error=f"unreadable file ({exc.strerror or exc})")
    sha = hashlib.sha256(raw).hexdigest()
    try:
        clean = load_clean(path, min_side=opts.min_side, max_pixels=opts.max_pixels,
                           crop_borders=opts.crop_borders)
    except ImageRejected as exc:
        return _Decoded(source, cls, sha, error=str(exc))
    if not clean.changed:
        data, ext = raw, ".jpg" if clean.source_format == "JPEG" else ".png"
    else:
        buf = io.BytesIO()
        if clean.source_format in LOSSLESS_FORMATS:
            clean.image.save(buf, "PNG")
            ext = ".png"
        else:
            clean.image.save(buf, "JPEG", quality=95)
            ext = ".jpg"
        data = buf.getvalue()
    return _Decoded(source, cls, sha, data=data, ext=ext, width=clean.image.width,
                    height=clean.image.height, phash=dedupe.phash_hex(clean.image),
                    cropped=clean.crop_box is not None)


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


def _decoded_stream(jobs: list[tuple[str, str, ImportOptions]], workers: int) -> Iterator[_Decoded]:
    if workers <= 1 or len(jobs) < 16:
        yield from map(_decode, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_decode, jobs, chunksize=8)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def register_images(
    dataset: Dataset,
    decoded: Iterable[_Decoded],
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
    rows: list[dict] = []
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
        known_sha[item.sha256] = (image_id, item.source)
        hashes.add([item.phash])
        ids.append(image_id)
        report.added += 1

    # Decoding took a while and the table may have changed since it was read above
    # (curation decisions, another import): merge the new rows into a fresh read, under
    # the table lock, so nothing written meanwhile is lost.
    with dataset.locked():
        table = dataset.read_or_empty()
        present = set(table["id"].astype(str))
        fresh = [r for r in rows if r["id"] not in present]
        if len(fresh) < len(rows):  # added by a concurrent import in the meantime
            report.added -= len(rows) - len(fresh)
            report.already_present += len(rows) - len(fresh)
        if fresh:
            table = pd.concat([table, pd.DataFrame(fresh)], ignore_index=True)
        if fresh or not dataset.exists():
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
) -> ImportReport:
    """Import ``src`` (a folder per class) into ``dataset``; see the module docstring.

    ``extra_columns`` maps a source file's resolved path to more columns for its row
    (the crawler records URL, engine, query and licence filter this way); a ``source``
    entry there replaces the file path as the recorded source."""
    opts = options or ImportOptions()
    started = time.perf_counter()
    src = Path(src)
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
    dataset.root.mkdir(parents=True, exist_ok=True)
    group_of = {c: g.group for c, g in resolved.items()}
    known = dict(dataset.group_overrides())
    if any(known.get(c) != g for c, g in group_of.items()):
        write_classes_toml(dataset.files.classes, {**known, **group_of})

    jobs = [(str(p.resolve()), cls, opts) for cls, files in classes.items() for p in files]
    workers = opts.workers or min(4, os.cpu_count() or 1)
    register_images(dataset, _decoded_stream(jobs, workers), group_of, opts, report,
                    total=len(jobs), progress=progress, source_columns=extra_columns)
    report.seconds = time.perf_counter() - started
    return report

