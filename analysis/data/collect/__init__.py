"""``streetlens data collect``: crawl street photos of one class from an image search
engine (icrawler) into a dataset.

Downloads land in a staging folder, ``<dataset>/.incoming/<class>/``, numbered
``000001.jpg …``; beside them a sources log gets one line per saved file (file, URL,
engine, query, licence filter) the moment the file arrives, so an interrupted crawl keeps
what it got. Then every staged file goes through the import checks of
:func:`analysis.data.importer.import_folder` (decode, clean, dedupe, split) with the URL
and search recorded in extra columns (``source_url``, ``engine``, ``query``,
``licence_filter``); staged files that were imported or rejected are removed, the
sources log stays.

Reruns resume: URLs already downloaded (the sources log) or already in the dataset
(``source_url``) are skipped, numbering continues, and nothing is fetched once the class
has ``max_images`` images in the dataset. Without network there is one clear error and
nothing is written.

Engines are one registry entry each (``engines.ENGINES``); the crawl itself, through
icrawler's extension points, is ``crawl.py``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analysis.classes import resolve_groups
from analysis.data.collect.crawl import CrawlState, SourceLog, crawl
from analysis.data.collect.engines import (
    ENGINES,
    LICENCE_TEXT,
    PROBE_TIMEOUT,
    CollectError,
    Engine,
    build_query,
    check_reachable,
    get_engine,
    licence_record,
    no_network,
)
from analysis.data.dataset import Dataset, DatasetError
from analysis.data.importer import ImportOptions, ImportReport, import_folder, reject_lines
from analysis.store import SOURCES_LOG

INCOMING = ".incoming"
MAX_ROUNDS = 4  # crawl → import rounds per call (rejects and duplicates leave room)

__all__ = ["ENGINES", "LICENCE_TEXT", "CollectError", "CollectReport", "Engine", "build_query", "collect",
           "licence_record", "staging_folder"]


@dataclass
class CollectReport:
    """What a collect did; ``lines()`` is what the CLI prints."""

    dataset: Path
    cls: str
    engine: str
    query: str
    licence_filter: str
    max_images: int
    downloaded: int = 0
    skipped_known: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    imports: list[ImportReport] = field(default_factory=list)
    in_dataset: int = 0
    staged_left: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def added(self) -> int:
        return sum(r.added for r in self.imports)

    @property
    def rejected(self) -> list[tuple[str, str]]:
        return [x for r in self.imports for x in r.rejected]

    @property
    def duplicates(self) -> list[tuple[str, str, int]]:
        return [x for r in self.imports for x in r.duplicates]

    def lines(self) -> list[str]:
        out = [
            f"collect {self.cls} from {self.engine} ({self.query!r}, licence filter "
            f"{self.licence_filter}): {self.downloaded} downloaded, {self.skipped_known} known "
            f"URLs skipped, {self.failed} failed; {self.added} added, "
            f"{len(self.duplicates)} duplicates, {len(self.rejected)} rejected; "
            f"{self.in_dataset}/{self.max_images} {self.cls} images in {self.dataset} "
            f"({self.seconds:.1f} s)"
        ]
        out += [f"  note: {n}" for n in self.notes]
        out += reject_lines(self.rejected, self.duplicates, Dataset(self.dataset).rejects_path)
        out += [f"  failed {f}" for f in self.failures[:5]]
        if len(self.failures) > 5:
            out.append(f"  … {len(self.failures) - 5} more failed downloads")
        return out


def staging_folder(dataset: Dataset, cls: str) -> Path:
    return dataset.root / INCOMING / cls


def staged_files(staging: Path) -> list[Path]:
    """Downloaded files waiting for import, oldest first."""
    if not staging.is_dir():
        return []
    return sorted(p for p in staging.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.name != SOURCES_LOG)


def _check_class(cls: str) -> None:
    if not cls or cls.startswith(".") or "/" in cls or "\\" in cls or cls.strip() != cls:
        raise CollectError(f"class {cls!r} is not a usable folder name: use e.g. 'tokyo'")


def _class_count(dataset: Dataset, cls: str) -> int:
    table = dataset.read_or_empty()
    return int((table["class"] == cls).sum())


def _import_batch(dataset: Dataset, staging: Path, batch: list[Path], cls: str,
                  sources: SourceLog, groups: dict[str, str] | None,
                  options: ImportOptions | None, progress: bool) -> ImportReport:
    """Import ``batch`` (staged files of one class) through ``import_folder``: a private
    folder of links keeps the sources log and other classes' downloads out of the scan."""
    by_file = sources.by_file()
    link_root = staging.parent / f".import-{cls}-{os.getpid()}"
    shutil.rmtree(link_root, ignore_errors=True)
    (link_root / cls).mkdir(parents=True)
    extra: dict[str, dict] = {}
    url_of: dict[str, str] = {}
    try:
        for path in batch:
            link = link_root / cls / path.name
            try:
                link.symlink_to(path.resolve())
            except OSError:  # no symlinks here (Windows without rights): link or copy
                try:
                    os.link(path, link)
                except OSError:
                    shutil.copy2(path, link)
            key = str(link.resolve())
            rec = by_file.get(path.name)
            if rec is None:
                continue  # staged without a record (crash between file and log): path only
            url_of[key] = rec["url"]
            extra[key] = {
                "source": rec["url"], "source_url": rec["url"], "engine": rec.get("engine"),
                "query": rec.get("query"), "licence_filter": rec.get("licence_filter"),
                "licence": rec.get("licence"),
            }
        report = import_folder(link_root, dataset, groups=groups, options=options,
                               progress=progress, extra_columns=extra)
    finally:
        shutil.rmtree(link_root, ignore_errors=True)
    # rejects and duplicates are reported (and kept in the rejects table) by URL, not by
    # the staged path that is about to disappear
    report.rejected = [(url_of.get(s, s), why) for s, why in report.rejected]
    report.duplicates = [(url_of.get(s, s), kept, d) for s, kept, d in report.duplicates]
    if url_of and dataset.rejects_path.is_file():
        with dataset.locked():  # a read-modify-write, like every change of the tables
            rejects = dataset.read_rejects()
            mapped = rejects["source"].map(lambda s: url_of.get(s, s))
            if (mapped != rejects["source"]).any():
                rejects["source"] = mapped
                dataset.write_rejects(rejects)
    for path in batch:  # imported, already present, duplicate or rejected: all handled
        path.unlink(missing_ok=True)
    return report


def collect(
    dataset: Dataset | str | Path,
    cls: str,
    query: str | None = None,
    *,
    exclude: Sequence[str] = (),
    max_images: int = 1000,
    engine: str | Engine = "bing",
    licence_filter: str | None = None,
    group: str | None = None,
    options: ImportOptions | None = None,
    progress: bool = True,
    threads: int = 4,
    probe_timeout: float = PROBE_TIMEOUT,
) -> CollectReport:
    """Crawl images of ``cls`` until the dataset holds ``max_images`` of them (or the
    engine has no more), staging, recording and importing them; see the module docstring.

    ``engine`` is a name in :data:`ENGINES` or an :class:`Engine` (any icrawler crawler
    class, e.g. one serving a local test server). ``group`` is the coarse group of a class
    that is not built in. Raises :class:`CollectError` (nothing written) when the engine
    cannot be reached."""
    started = time.perf_counter()
    spec = get_engine(engine)
    _check_class(cls)
    if max_images < 1:
        raise CollectError(f"--max must be at least 1, got {max_images}")
    recorded_filter, licence_text = licence_record(spec, licence_filter)
    full_query = build_query(query or f"{cls} street", exclude)
    if not full_query:
        raise CollectError("empty query: give --query, e.g. 'tokyo street photo'")
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    extra_groups = {cls: group} if group else None
    # checked before any download: a class without a group (or in another group than in
    # the dataset) would otherwise only fail at import time
    resolved = resolve_groups([cls], ds.root, extra=extra_groups)[cls].group
    table = ds.read_or_empty()
    clash = set(table.loc[table["class"] == cls, "group"].dropna()) - {resolved}
    if clash:
        raise DatasetError(f"class '{cls}' is in group {clash.pop()} in {ds.root}, not {resolved}")

    staging = staging_folder(ds, cls)
    sources = SourceLog.read(staging / SOURCES_LOG)
    known = sources.urls()
    if "source_url" in table:
        known |= set(table["source_url"].dropna().astype(str))
    meta = {"class": cls, "engine": spec.name, "query": full_query,
            "licence_filter": recorded_filter, "licence": licence_text}
    report = CollectReport(ds.root, cls, spec.name, full_query, recorded_filter, max_images)
    filters = {"license": licence_filter} if licence_filter else None
    existed = [p for p in (ds.root, staging.parent, staging) if p.exists()]
    probed = exhausted = False
    try:
        for _ in range(MAX_ROUNDS):
            room = max_images - _class_count(ds, cls)
            if room <= 0:
                break
            pending = staged_files(staging)
            need = room - len(pending)
            if need > 0 and not exhausted:
                seen = sum(1 for r in sources.records if r.get("engine") == spec.name
                           and r.get("query") == full_query
                           and r.get("licence_filter") == recorded_filter)
                if seen >= spec.max_results:
                    exhausted = True
                    report.notes.append(
                        f"{spec.name} serves at most {spec.max_results} results per query and "
                        "all were fetched: vary --query (or --engine) for more")
                else:
                    if not probed:
                        reason = check_reachable(spec.probe_url, probe_timeout)
                        if reason is not None:
                            raise no_network(spec, reason)
                        probed = True
                    state = CrawlState(sources, known, meta, need, progress)
                    feed = min(spec.max_results, seen + 2 * need + 20)
                    crawl(spec, staging, state, full_query, filters, feed, sources.max_index(), threads)
                    report.downloaded += state.downloaded
                    report.skipped_known += state.skipped
                    report.failed += state.failed
                    report.failures += state.failures
                    if state.downloaded == 0 and state.requests_ok == 0 and state.requests_failed:
                        if not report.downloaded and not report.imports and not pending:
                            raise no_network(spec, state.request_errors[0].split(": ", 1)[-1])
                        report.notes.append(f"{spec.name} stopped answering; rerun to go on")
                        exhausted = True
                    elif state.downloaded < need:
                        exhausted = True
                        report.notes.append(
                            f"{spec.name} had no more new images for this query "
                            f"({state.downloaded} of {need} wanted): vary --query or --engine")
                pending = staged_files(staging)
            batch = pending[:room]
            if not batch:
                break
            report.imports.append(_import_batch(ds, staging, batch, cls, sources,
                                                extra_groups, options, progress))
            if report.imports[-1].added == 0 and exhausted:
                break
    except CollectError:
        _remove_new_empty_dirs((staging, staging.parent, ds.root), existed)
        raise
    report.in_dataset = _class_count(ds, cls)
    report.staged_left = len(staged_files(staging))
    if report.staged_left:
        report.notes.append(f"{report.staged_left} downloaded file(s) wait in {staging} "
                            f"(over --max {max_images}); a rerun with a higher --max imports them")
    report.seconds = time.perf_counter() - started
    return report


def _remove_new_empty_dirs(paths: Iterable[Path], existed: list[Path]) -> None:
    """Undo folders this call created, if they are still empty."""
    for path in paths:
        if path in existed or not path.is_dir():
            continue
        try:
            path.rmdir()
        except OSError:
            pass
