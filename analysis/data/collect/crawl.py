"""One crawl of one class: icrawler's pipeline (feeder → parser → downloader) through its
own extension points.

* ``StagingStorage`` (a ``FileSystem`` storage) writes every file atomically.
* ``RecordingDownloader`` (an ``ImageDownloader``) overrides ``download`` to skip URLs the
  dataset already has and to reserve one of the crawl's slots before fetching (so no file
  is fetched only to be thrown away), ``keep_file`` to keep every file for the import
  checks, ``worker_exec`` to stop at the crawl's limit and not before the parser has
  finished, and ``process_meta`` to append each saved file to the sources log at once.
* ``CountingAdapter`` (a requests ``HTTPAdapter`` with urllib3's ``Retry``) retries failed
  requests and counts answers and failures, so "every request failed" (no network) can be
  told from "the engine had nothing new".
* ``streetlens_crawler`` subclasses the engine's crawler to keep icrawler's logging to
  itself: its ``set_logger`` calls ``logging.basicConfig``, which would configure the
  caller's root logger.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from icrawler import ImageDownloader
from icrawler.storage import FileSystem
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from analysis.data.collect.engines import Engine
from analysis.progress import bar
from analysis.store import write_bytes_atomic

RETRY = Retry(total=2, connect=2, read=2, backoff_factor=0.1, status_forcelist=(429, 500, 502, 503, 504),
              allowed_methods=("GET", "HEAD"), raise_on_status=False)
"""Failed requests are retried twice (pages and files alike); 4xx other than 429 are final."""
GIVE_UP_AFTER = 3  # failed requests in a row, none answered: the engine is unreachable, stop
QUEUE_TIMEOUT = 0.5  # seconds a download thread waits for a task before it checks for the end
DOWNLOAD_TIMEOUT = 10.0  # seconds per request for one file (icrawler's default is 5)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class SourceLog:
    """The sources log beside the staged files: one JSON object per saved file."""

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
        return max((int(Path(r["file"]).stem) for r in self.records if Path(r["file"]).stem.isdigit()),
                   default=0)


@dataclass
class CrawlState:
    """What one crawl's downloader threads share (under the downloader's lock)."""

    sources: SourceLog
    known: set[str]  # URLs the dataset or the log already has: never fetched again
    meta: dict  # recorded with every file: class, engine, query, licence filter
    limit: int  # new files wanted
    progress: bool
    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    inflight: int = 0
    requests_ok: int = 0
    requests_failed: int = 0
    request_errors: list[str] = field(default_factory=list)
    errors_by_url: dict[str, str] = field(default_factory=dict)
    bar: object | None = None


class CountingAdapter(HTTPAdapter):
    """Retries (``RETRY``) and counts every request of the crawler's session; when the
    first ``GIVE_UP_AFTER`` requests all fail it stops the crawl (``signal``) instead of
    trying every result page of an engine that does not answer."""

    def __init__(self, state: CrawlState, signal):
        super().__init__(max_retries=RETRY)
        self.state, self.signal = state, signal

    def send(self, request, **kwargs):
        st = self.state
        try:
            response = super().send(request, **kwargs)
        except Exception as exc:
            st.requests_failed += 1
            st.errors_by_url[request.url] = type(exc).__name__
            if len(st.request_errors) < 5:
                st.request_errors.append(f"{request.url}: {type(exc).__name__}")
            if st.requests_ok == 0 and st.requests_failed >= GIVE_UP_AFTER:
                self.signal.set(reach_max_num=True)
            raise
        st.requests_ok += 1
        if response.status_code != 200:
            st.errors_by_url[request.url] = f"HTTP {response.status_code}"
        return response


class StagingStorage(FileSystem):
    """icrawler's file storage, writing each file under a temporary name first."""

    def write(self, id, data):
        write_bytes_atomic(Path(self.root_dir) / id, data if isinstance(data, bytes) else data.encode())


class RecordingDownloader(ImageDownloader):
    """icrawler's image downloader that skips known URLs, stops at ``state.limit`` new
    files and records each saved file in the sources log at once.

    Every fetched file is kept: whether it is a usable image is for the import checks to
    decide (and report), not for a silent drop here."""

    def __init__(self, thread_num, signal, session, storage, *, state: CrawlState):
        super().__init__(thread_num, signal, session, storage)
        self.state = state

    def worker_exec(self, max_num, default_ext="jpg", queue_timeout=5, req_timeout=DOWNLOAD_TIMEOUT,
                    max_idle_time=None, **kwargs):
        """icrawler's loop, except that an empty queue ends a thread only once the parser
        has exited: icrawler's own loop (0.6.10) stops as soon as the queue stays empty for
        ``queue_timeout`` after a first download, so a slow result page ended the crawl
        with fewer files than wanted."""
        self.max_num = min(max_num, self.state.limit)
        while not self.reach_max_num():
            try:
                task = self.in_queue.get(timeout=QUEUE_TIMEOUT)
            except queue.Empty:
                if self.signal.get("parser_exited"):
                    break
                continue
            try:
                self.download(task, default_ext, req_timeout, **kwargs)
                self.process_meta(task)
            finally:
                self.in_queue.task_done()

    def _claim(self, url: str) -> bool:
        """Reserve one of the ``limit`` slots for ``url``; False when it is known or the
        limit is reached. Waits while other threads' downloads may still free a slot."""
        st = self.state
        while True:
            with self.lock:
                if url in st.known:
                    st.skipped += 1
                    return False
                if self.fetched_num >= st.limit:
                    self.signal.set(reach_max_num=True)
                    return False
                if self.fetched_num + st.inflight < st.limit:
                    st.known.add(url)  # claimed: no other thread fetches it
                    st.inflight += 1
                    return True
            time.sleep(0.05)

    def download(self, task, default_ext, timeout=5, max_retry=3, overwrite=False, **kwargs):
        task["success"], task["filename"], task["claimed"] = False, None, False
        if not self._claim(task["file_url"]):
            return False
        task["claimed"] = True
        try:  # the session's adapter retries; a thread must survive whatever one file does
            super().download(task, default_ext, timeout, max_retry=1, overwrite=True, **kwargs)
        except Exception as exc:
            self.state.errors_by_url.setdefault(task["file_url"], type(exc).__name__)
        return task["success"]

    def keep_file(self, task, response, **kwargs):
        """Keep every answer: icrawler's ``ImageDownloader.keep_file`` (0.6.10) drops a file
        PIL cannot open without a word, where the import checks reject it by URL and say why."""
        return True

    def process_meta(self, task):
        if not task.get("claimed"):
            return
        st, url = self.state, task["file_url"]
        with self.lock:
            st.inflight -= 1
            if task["success"]:
                st.sources.append({"file": task["filename"], "url": url, "time": now(), **st.meta})
                st.downloaded += 1
                if st.bar is None:  # created on the first file: no bar when nothing arrives
                    st.bar = bar(total=st.limit, desc=f"download {st.meta['class']}", unit="img",
                                 disable=not st.progress)
                st.bar.update(1)
                if self.fetched_num >= st.limit:
                    self.signal.set(reach_max_num=True)
            else:
                st.known.discard(url)  # failed: a later run may retry it
                st.failed += 1
                st.failures.append(f"{url}: {st.errors_by_url.get(url, 'not saved')}")


def streetlens_crawler(spec: Engine) -> type:
    """The engine's crawler class whose logging stays its own: ``Crawler.set_logger``
    (icrawler 0.6.10, called from ``__init__``) runs ``logging.basicConfig``, which would
    give the caller's root logger a handler and level and print icrawler's lines."""

    def set_logger(self, log_level=logging.INFO):
        self.logger = logging.getLogger(f"{__name__}.icrawler")
        if self.logger.level == logging.NOTSET:
            self.logger.setLevel(logging.DEBUG if os.environ.get("STREETLENS_DEBUG") else logging.CRITICAL)

    return type(f"Streetlens{spec.crawler.__name__}", (spec.crawler,), {"set_logger": set_logger})


def make_crawler(spec: Engine, staging: Path, state: CrawlState, threads: int):
    crawler = streetlens_crawler(spec)(
        downloader_cls=RecordingDownloader, feeder_threads=1, parser_threads=1, downloader_threads=threads,
        storage=StagingStorage(str(staging)), extra_downloader_args={"state": state})
    for part in (crawler.feeder, crawler.parser, crawler.downloader):
        # icrawler 0.6.10's ThreadPool.__init__ takes logging.getLogger("feeder" / "parser" /
        # "downloader"), with no hook to pass one in: their errors (a failed page) would reach
        # stderr through the root logger and break the one-line error without network
        part.logger = crawler.logger
    adapter = CountingAdapter(state, crawler.signal)
    crawler.session.mount("http://", adapter)
    crawler.session.mount("https://", adapter)
    return crawler


def crawl(spec: Engine, staging: Path, state: CrawlState, keyword: str, filters: dict | None, feed: int,
          offset: int, threads: int) -> None:
    """Fetch up to ``state.limit`` new files for ``keyword`` into ``staging``, asking the
    engine for ``feed`` results, numbering files after ``offset``."""
    crawler = make_crawler(spec, staging, state, threads)
    try:
        crawler.crawl(keyword=quote(keyword, safe="") if spec.quote_query else keyword,
                      filters=filters, max_num=feed, file_idx_offset=offset)
    except BaseException:
        crawler.signal.set(reach_max_num=True)  # let the worker threads wind down
        raise
    finally:
        if state.bar is not None:
            state.bar.close()
            state.bar = None

