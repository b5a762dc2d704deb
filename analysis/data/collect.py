"""``streetlens data collect``: crawl street photos of one class from an image search
engine (icrawler) into a dataset.

Downloads land in a staging folder, ``<dataset>/.incoming/<class>/``, numbered
``000001.jpg …``; beside them ``sources.jsonl`` gets one line per saved file (file, URL,
engine, query, licence filter) the moment the file arrives, so an interrupted crawl keeps
what it got. Then every staged file goes through the import checks of
:func:`analysis.data.importer.import_folder` (decode, clean, dedupe, split) with the URL
and search recorded in extra columns (``source_url``, ``engine``, ``query``,
``licence_filter``); staged files that were imported or rejected are removed, the
``sources.jsonl`` history stays.

Reruns resume: URLs already downloaded (``sources.jsonl``) or already in the dataset
(``source_url``) are skipped, numbering continues, and nothing is fetched once the class
has ``max_images`` images in the dataset. Without network there is one clear error and
nothing is written.

Engines are one registry entry each (:data:`ENGINES`): an icrawler crawler class, a URL
for the cheap connectivity check and the licence-filter values the engine understands.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
from icrawler import ImageDownloader
from icrawler.builtin import BaiduImageCrawler, BingImageCrawler, GoogleImageCrawler
from tqdm import tqdm

from analysis.classes import resolve_groups
from analysis.data.dataset import Dataset, DatasetError
from analysis.data.importer import ImportOptions, ImportReport, import_folder
from analysis.store import write_bytes_atomic

INCOMING = ".incoming"
SOURCES_LOG = "sources.jsonl"
MAX_ROUNDS = 4  # crawl → import rounds per call (rejects and duplicates leave room)
PROBE_TIMEOUT = 5.0  # seconds for the up-front connectivity check


class CollectError(ValueError):
    """A crawl that cannot run as asked (no network, bad engine or filter); one line."""


# --------------------------------------------------------------------------- engines


@dataclass(frozen=True)
class Engine:
    """One image search engine: how to crawl it and what its licence filter accepts.

    ``crawler`` is an icrawler ``Crawler`` subclass whose ``__init__`` takes
    ``downloader_cls`` / ``storage`` / ``extra_downloader_args`` and whose ``crawl`` takes
    ``keyword, filters, max_num, file_idx_offset`` (as icrawler's built-in ones do).
    ``licences`` are the values of ``filters=dict(license=...)``; empty when the engine has
    no licence filter."""

    name: str
    crawler: type
    probe_url: str  # any HTTP answer from here counts as "network is up"
    licences: tuple[str, ...] = ()
    quote_query: bool = False  # the feeder pastes the keyword into its URL unencoded
    max_results: int = 1000  # the engine serves at most this many results per query

    @property
    def host(self) -> str:
        return urlsplit(self.probe_url).netloc or self.probe_url


ENGINES: dict[str, Engine] = {
    "bing": Engine(
        "bing", BingImageCrawler, "https://www.bing.com/",
        ("creativecommons", "publicdomain", "noncommercial", "commercial",
         "noncommercial,modify", "commercial,modify"),
        quote_query=True,
    ),
    "google": Engine(
        "google", GoogleImageCrawler, "https://www.google.com/",
        ("noncommercial", "commercial", "noncommercial,modify", "commercial,modify"),
    ),
    "baidu": Engine("baidu", BaiduImageCrawler, "http://image.baidu.com/", (), quote_query=True),
}

_VERIFY = "filter, verify per image"
LICENCE_TEXT: dict[str, str] = {
    "creativecommons": f"any Creative Commons licence ({_VERIFY})",
    "publicdomain": f"public domain ({_VERIFY})",
    "noncommercial": f"noncommercial reuse ({_VERIFY})",
    "commercial": f"commercial reuse ({_VERIFY})",
    "noncommercial,modify": f"noncommercial reuse with modification ({_VERIFY})",
    "commercial,modify": f"commercial reuse with modification ({_VERIFY})",
}


def get_engine(engine: str | Engine) -> Engine:
    if isinstance(engine, Engine):
        return engine
    try:
        return ENGINES[engine]
    except KeyError:
        raise CollectError(
            f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}") from None


def licence_record(spec: Engine, licence_filter: str | None) -> tuple[str, str]:
    """(recorded licence filter, human licence text) for a crawl; checks the value."""
    if not licence_filter:
        if not spec.licences:
            return (f"none ({spec.name} has no licence filter)",
                    f"unknown: {spec.name} has no licence filter (verify per image)")
        return "none", "unknown: no licence filter (verify per image)"
    if not spec.licences:
        raise CollectError(f"{spec.name} has no licence filter: drop --licence-filter "
                           f"or use an engine that has one "
                           f"({', '.join(n for n, e in ENGINES.items() if e.licences)})")
    if licence_filter not in spec.licences:
        raise CollectError(f"licence filter {licence_filter!r} is not one {spec.name} knows: "
                           f"choose one of {', '.join(spec.licences)}")
    return licence_filter, LICENCE_TEXT.get(
        licence_filter, f"{licence_filter} ({_VERIFY})")


def build_query(query: str, exclude: Iterable[str] = ()) -> str:
    """``query`` with every exclude word appended as a ``-word`` term."""
    terms = [query.strip()]
    seen = set()
    for word in exclude:
        word = word.strip().lstrip("-").strip()
        if not word or word.lower() in seen:
            continue
        seen.add(word.lower())
        terms.append(f'-"{word}"' if " " in word else f"-{word}")
    return " ".join(t for t in terms if t)


def check_reachable(url: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when ``url`` answers at all (any HTTP status), else a short reason."""
    try:
        requests.head(url, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        return "timed out"
    except requests.RequestException as exc:
        text = str(exc).lower()
        if "resolve" in text or "name or service" in text or "getaddrinfo" in text:
            return "name not resolved"
        if "refused" in text:
            return "connection refused"
        return type(exc).__name__
    return None


def no_network(spec: Engine, reason: str | None = None) -> CollectError:
    why = f" ({reason})" if reason else ""
    return CollectError(f"cannot reach {spec.host}{why}: no network? nothing was written")


# --------------------------------------------------------------------------- sources log


@dataclass
class SourceLog:
    """``sources.jsonl`` beside the staged files: one JSON object per saved file."""

    path: Path
    records: list[dict] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> "SourceLog":
        records = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by a crash
                    continue
                if isinstance(rec, dict) and rec.get("url") and rec.get("file"):
                    records.append(rec)
        return cls(path, records)

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
            fh.flush()
        self.records.append(record)

    def urls(self) -> set[str]:
        return {r["url"] for r in self.records}

    def by_file(self) -> dict[str, dict]:
        return {r["file"]: r for r in self.records}

    def max_index(self) -> int:
        best = 0
        for rec in self.records:
            stem = Path(rec["file"]).stem
            if stem.isdigit():
                best = max(best, int(stem))
        return best


# --------------------------------------------------------------------------- downloader


@dataclass
class _CrawlState:
    """Shared by the downloader threads of one crawl (guarded by the downloader's lock)."""

    sources: SourceLog
    known: set[str]
    meta: dict
    limit: int
    progress: bool
    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    inflight: int = 0
    requests_ok: int = 0
    requests_failed: int = 0
    request_errors: list[str] = field(default_factory=list)
    bar: tqdm | None = None


class RecordingDownloader(ImageDownloader):
    """icrawler's image downloader that skips known URLs, stops at ``state.limit`` new
    files, writes each file atomically and records it in ``sources.jsonl`` at once.

    Every fetched file is kept: whether it is a usable image is for the import checks to
    decide (and report), not for a silent drop here."""

    QUEUE_TIMEOUT = 0.5

    def __init__(self, thread_num, signal, session, storage, *, state: _CrawlState,
                 req_timeout: float = 10.0):
        super().__init__(thread_num, signal, session, storage)
        self.state = state
        self.req_timeout = req_timeout
        self.max_num = state.limit

    def reach_max_num(self) -> bool:
        return bool(self.signal.get("reach_max_num")) or self.fetched_num >= self.state.limit

    def worker_exec(self, max_num=0, default_ext="jpg", queue_timeout=None, req_timeout=None,
                    max_idle_time=None, **kwargs):
        # unlike icrawler's loop, an empty queue ends a thread only once the parser has
        # exited (a slow result page does not end the crawl early)
        while not self.reach_max_num():
            try:
                task = self.in_queue.get(timeout=self.QUEUE_TIMEOUT)
            except queue.Empty:
                if self.signal.get("parser_exited"):
                    break
                continue
            try:
                self.download(task, default_ext, self.req_timeout, **kwargs)
            except Exception as exc:  # never let one task kill the thread
                self.logger.error("download of %s failed: %s", task.get("file_url"), exc)
            finally:
                self.in_queue.task_done()

    def _claim(self, url: str) -> bool:
        """Reserve one of the ``limit`` slots for ``url``; False when it is known or the
        limit is reached. Waits while other threads' downloads may still free a slot, so
        no file is fetched only to be thrown away."""
        st = self.state
        while True:
            with self.lock:
                if url in st.known:
                    st.skipped += 1
                    return False
                if self.reach_max_num():
                    self.signal.set(reach_max_num=True)
                    return False
                if self.fetched_num + st.inflight < st.limit:
                    st.known.add(url)  # claimed: no other thread fetches it
                    st.inflight += 1
                    return True
            time.sleep(0.05)

    def _fetch(self, url: str, timeout: float, max_retry: int):
        """The response, or None after recording why not."""
        st = self.state
        reason = ""
        for _ in range(max_retry):
            if self.signal.get("reach_max_num"):
                return None
            try:
                response = self.session.get(url, timeout=timeout)
            except Exception as exc:
                reason = type(exc).__name__
                continue
            if response.status_code == 200:
                return response
            reason = f"HTTP {response.status_code}"
            break
        with self.lock:
            st.failed += 1
            st.failures.append(f"{url}: {reason}")
        return None

    def download(self, task, default_ext, timeout=10, max_retry=2, **kwargs):
        url = task["file_url"]
        task["success"], task["filename"] = False, None
        if not self._claim(url):
            return False
        st = self.state
        saved = False
        try:
            response = self._fetch(url, timeout, max_retry)
            if response is None:
                return False
            with self.lock:
                self.fetched_num += 1
                filename = self.get_filename(task, default_ext)
                write_bytes_atomic(Path(self.storage.root_dir) / filename, response.content)
                st.sources.append({"file": filename, "url": url, "time": _now(), **st.meta})
                saved = True
                st.downloaded += 1
                if st.bar is None:  # created on the first file: no bar when nothing arrives
                    st.bar = tqdm(total=st.limit, desc=f"download {st.meta['class']}",
                                  unit="img", disable=not st.progress)
                st.bar.update(1)
                if self.fetched_num >= st.limit:
                    self.signal.set(reach_max_num=True)
            task["success"], task["filename"] = True, filename
            return True
        finally:
            with self.lock:
                st.inflight -= 1
                if not saved:
                    st.known.discard(url)  # failed (or interrupted): a later run may retry


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _count_requests(session, state: _CrawlState) -> None:
    """Count answered and failed requests of the crawler's session (pages and files),
    so that "every request failed" can be told from "the engine had nothing new"."""
    plain_get = session.get

    def get(url, **kwargs):
        try:
            response = plain_get(url, **kwargs)
        except Exception as exc:
            state.requests_failed += 1
            if len(state.request_errors) < 5:
                state.request_errors.append(f"{urlsplit(url).netloc}: {type(exc).__name__}")
            raise
        state.requests_ok += 1
        return response

    session.get = get


def _quiet_icrawler(crawler) -> None:
    quiet = logging.getLogger(f"{__name__}.icrawler")
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.DEBUG if os.environ.get("STREETLENS_DEBUG") else logging.CRITICAL)
    crawler.logger = quiet
    for part in (crawler.feeder, crawler.parser, crawler.downloader):
        part.logger = quiet


def _make_crawler(spec: Engine, staging: Path, state: _CrawlState, threads: int):
    # icrawler calls logging.basicConfig on construction: keep the caller's logging as it was
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        crawler = spec.crawler(
            downloader_cls=RecordingDownloader,
            feeder_threads=1, parser_threads=1, downloader_threads=threads,
            storage={"backend": "FileSystem", "root_dir": str(staging)},
            log_level=logging.CRITICAL,
            extra_downloader_args={"state": state},
        )
    finally:
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
    _quiet_icrawler(crawler)
    _count_requests(crawler.session, state)
    return crawler


def _crawl(spec: Engine, staging: Path, state: _CrawlState, keyword: str,
           filters: dict | None, feed: int, offset: int, threads: int) -> None:
    crawler = _make_crawler(spec, staging, state, threads)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(crawler, stop), daemon=True)
    watcher.start()
    try:
        crawler.crawl(keyword=quote(keyword, safe="") if spec.quote_query else keyword,
                      filters=filters, max_num=feed, file_idx_offset=offset)
    except BaseException:
        crawler.signal.set(reach_max_num=True)  # let the worker threads wind down
        raise
    finally:
        stop.set()
        watcher.join(timeout=1)
        if state.bar is not None:
            state.bar.close()
            state.bar = None


def _watch(crawler, stop: threading.Event) -> None:
    """Tell parser and downloader at once when the stage before them has finished.

    icrawler's supervisor sets these signals in a loop that sleeps a second, and each
    stage waits for them, so a crawl would end seconds after its last download."""
    parts = (crawler.feeder, crawler.parser, crawler.downloader)
    while not stop.wait(0.05):
        # act only once all three stages run (crawl() resets the signals before that)
        if not all(p.workers and all(w.ident is not None for w in p.workers) for p in parts):
            continue
        if not crawler.feeder.is_alive():
            crawler.signal.set(feeder_exited=True)
        if not crawler.parser.is_alive():
            crawler.signal.set(parser_exited=True)
        if not crawler.downloader.is_alive():
            return


# --------------------------------------------------------------------------- collect


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
        out += [f"  rejected {src}: {why}" for src, why in self.rejected[:20]]
        if len(self.rejected) > 20:
            out.append(f"  … {len(self.rejected) - 20} more rejects in rejects.parquet")
        out += [f"  duplicate {src} ~ {kept} (distance {d})"
                for src, kept, d in self.duplicates[:10]]
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
    folder of links keeps ``sources.jsonl`` and other classes' downloads out of the scan."""
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
    # rejects and duplicates are reported (and kept in rejects.parquet) by URL, not by
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
                    state = _CrawlState(sources, known, meta, need, progress)
                    feed = min(spec.max_results, seen + 2 * need + 20)
                    _crawl(spec, staging, state, full_query, filters, feed,
                           sources.max_index(), threads)
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
