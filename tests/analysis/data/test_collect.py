"""``streetlens data collect`` offline: a loopback HTTP server plays the search engine.

The test engine is built exactly like icrawler's built-in ones (feeder → result page →
parser → downloader) and goes through the same collect code (RecordingDownloader, the
sources log, import checks) as Bing or Google. Nothing here leaves 127.0.0.1: an
autouse fixture refuses any other host name.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from click.testing import CliRunner
from icrawler import Crawler, Feeder, Parser

from analysis.cli import main
from analysis.data import collect as collect_mod
from analysis.data.collect import (
    ENGINES,
    LICENCE_TEXT,
    CollectError,
    Engine,
    build_query,
    collect,
    licence_record,
    staging_folder,
)
from analysis.data.dataset import Dataset
from analysis.store import SOURCES_LOG

PAGE = 4  # results per "search page"
N_GOOD = 7


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail loudly if anything tries to resolve a real host name."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1"):
            raise OSError(f"test tried to reach {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


class FakeEngine:
    """A tiny image search engine on 127.0.0.1: ``/search?q=..&first=..`` returns a JSON
    page of image URLs, ``/img/<n>.jpg`` the images (one of them a truncated JPEG)."""

    def __init__(self, photo):
        self.images: dict[str, bytes] = {}
        corrupt = io.BytesIO()
        photo(500, (120, 100)).save(corrupt, "JPEG", quality=90)
        self.images["bad.jpg"] = corrupt.getvalue()[: len(corrupt.getvalue()) // 2]
        for i in range(N_GOOD):
            buf = io.BytesIO()
            photo(100 + i, (120, 100)).save(buf, "JPEG", quality=90)
            self.images[f"{i}.jpg"] = buf.getvalue()
        self.order = ["bad.jpg"] + [f"{i}.jpg" for i in range(N_GOOD)]
        self.searches: list[dict] = []
        self.fetched: list[str] = []
        self.fail_first: set[str] = set()  # images that answer 503 the first time
        engine = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5

            def do_HEAD(self):
                self.send_response(200)
                self.end_headers()

            def do_GET(self):
                url = urlsplit(self.path)
                if url.path == "/search":
                    params = {k: v[0] for k, v in parse_qs(url.query).items()}
                    engine.searches.append(params)
                    first = int(params.get("first", 0))
                    names = engine.order[first:first + PAGE]
                    body = json.dumps({"images": [engine.url(f"img/{n}") for n in names]}).encode()
                    kind = "application/json"
                elif url.path.startswith("/img/") and url.path[5:] in engine.fail_first:
                    engine.fail_first.discard(url.path[5:])
                    self.send_error(503)
                    return
                elif url.path.startswith("/img/") and url.path[5:] in engine.images:
                    engine.fetched.append(url.path[5:])
                    body, kind = engine.images[url.path[5:]], "image/jpeg"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


def make_engine(search_base: str, probe_url: str) -> Engine:
    """An icrawler crawler in the shape of the built-in ones, reading ``search_base``."""

    class LoopbackFeeder(Feeder):
        def feed(self, keyword, offset, max_num, filters=None):
            for first in range(offset, offset + max_num, PAGE):
                params = {"q": keyword, "first": first, **(filters or {})}
                self.out_queue.put(f"{search_base}search?{urlencode(params)}")

    class LoopbackParser(Parser):
        def worker_exec(self, queue_timeout=0.2, req_timeout=2, max_retry=2, **kwargs):
            super().worker_exec(queue_timeout=queue_timeout, req_timeout=req_timeout,
                                max_retry=max_retry, **kwargs)

        def parse(self, response):
            return [{"file_url": u} for u in response.json()["images"]]

    class LoopbackCrawler(Crawler):
        def __init__(self, feeder_cls=LoopbackFeeder, parser_cls=LoopbackParser,
                     downloader_cls=None, *args, **kwargs):
            super().__init__(feeder_cls, parser_cls, downloader_cls, *args, **kwargs)

        def crawl(self, keyword, filters=None, offset=0, max_num=1000, file_idx_offset=0):
            super().crawl(
                feeder_kwargs=dict(keyword=keyword, offset=offset, max_num=max_num,
                                   filters=filters),
                downloader_kwargs=dict(max_num=max_num, file_idx_offset=file_idx_offset),
            )

    return Engine("loopback", LoopbackCrawler, probe_url,
                  licences=("noncommercial,modify", "commercial"), max_results=100)


@pytest.fixture
def fake(make_photo):
    server = FakeEngine(make_photo)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(timeout=5)


@pytest.fixture
def engine(fake):
    return make_engine(fake.url(), fake.url())


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


EXCLUDE = ["art", "fashion", "food"]


def run_collect(ds, engine, **kw):
    kw = {"exclude": EXCLUDE, "max_images": 50, "licence_filter": "noncommercial,modify",
          "progress": False, "threads": 2, **kw}
    return collect(ds, "tokyo", "tokyo street photo", engine=engine, **kw)


def test_collect_downloads_checks_records_and_resumes(tmp_path, fake, engine):
    ds = Dataset(tmp_path / "ds")
    report = run_collect(ds, engine)
    # the engine saw the query with -word terms and the licence filter
    assert fake.searches[0]["q"] == "tokyo street photo -art -fashion -food"
    assert fake.searches[0]["license"] == "noncommercial,modify"
    assert sorted(fake.fetched) == sorted(fake.order)
    assert report.downloaded == N_GOOD + 1 and report.added == N_GOOD
    # the corrupt file went through the import checks and was rejected, by its URL
    bad_url = fake.url("img/bad.jpg")
    assert [src for src, _ in report.rejected] == [bad_url]
    assert "truncated" in report.rejected[0][1]
    assert any(bad_url in line and "rejected" in line for line in report.lines())
    rejects = ds.read_rejects()
    assert list(rejects["source"]) == [bad_url] and list(rejects["kind"]) == ["rejected"]

    df = ds.read()
    assert len(df) == N_GOOD and set(df["class"]) == {"tokyo"} and set(df["group"]) == {"East"}
    assert set(df["source_url"]) == {fake.url(f"img/{i}.jpg") for i in range(N_GOOD)}
    assert (df["source"] == df["source_url"]).all()
    assert set(df["engine"]) == {"loopback"}
    assert set(df["query"]) == {"tokyo street photo -art -fashion -food"}
    assert set(df["licence_filter"]) == {"noncommercial,modify"}
    assert set(df["licence"]) == {LICENCE_TEXT["noncommercial,modify"]}
    assert report.in_dataset == N_GOOD

    # staging: images gone, the log kept (one line per saved file, numbered from 1)
    staging = staging_folder(ds, "tokyo")
    assert sorted(p.name for p in staging.iterdir()) == [SOURCES_LOG]
    log = [json.loads(line) for line in (staging / SOURCES_LOG).read_text().splitlines()]
    assert len(log) == N_GOOD + 1
    assert sorted(r["file"] for r in log) == [f"{i:06d}.jpg" for i in range(1, N_GOOD + 2)]
    assert {r["engine"] for r in log} == {"loopback"} and {r["url"] for r in log} == {
        fake.url(f"img/{n}") for n in fake.order}
    assert not list(ds.root.glob(".incoming/.import-*"))

    # rerun: every URL is known (log or dataset), nothing is downloaded again
    fetched = len(fake.fetched)
    again = run_collect(ds, engine)
    assert len(fake.fetched) == fetched
    assert again.downloaded == 0 and again.added == 0 and again.skipped_known == N_GOOD + 1
    assert len(ds.read()) == N_GOOD
    assert any("no more new images" in n for n in again.notes)


def test_max_counts_images_in_the_dataset_and_numbering_continues(tmp_path, fake, engine):
    ds = Dataset(tmp_path / "ds")
    # the first result is the corrupt one: a second round fills the gap it leaves
    report = run_collect(ds, engine, max_images=3)
    assert len(report.rejected) == 1 and report.added == 3
    assert report.in_dataset == len(ds.read()) == 3
    assert len(fake.fetched) == 4
    more = run_collect(ds, engine, max_images=5)
    assert more.downloaded == 2 and more.added == 2 and len(ds.read()) == 5
    assert len(fake.fetched) == 6 and len(set(fake.fetched)) == 6  # nothing fetched twice
    log = (staging_folder(ds, "tokyo") / SOURCES_LOG).read_text().splitlines()
    # numbering continues across runs, no gaps (two download threads may log out of order)
    assert sorted(json.loads(line)["file"] for line in log) == [f"{i:06d}.jpg" for i in range(1, 7)]
    # at --max already: not even a request
    searches = len(fake.searches)
    full = run_collect(ds, engine, max_images=5)
    assert full.downloaded == 0 and len(fake.searches) == searches


def test_interrupted_import_keeps_downloads_for_the_rerun(tmp_path, fake, engine, monkeypatch):
    ds = Dataset(tmp_path / "ds")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(collect_mod, "import_folder", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_collect(ds, engine, max_images=4)
    staging = staging_folder(ds, "tokyo")
    assert len(list(staging.glob("*.jpg"))) == 4
    assert len((staging / SOURCES_LOG).read_text().splitlines()) == 4
    assert not ds.exists()
    monkeypatch.undo()
    fetched = len(fake.fetched)
    report = run_collect(ds, engine, max_images=4)
    # the staged files were imported (one rejected), only the missing one was downloaded
    assert report.added == 4 and len(report.rejected) == 1
    assert report.downloaded == 1 and len(fake.fetched) == fetched + 1 == 5
    assert set(ds.read()["source_url"]).issubset({fake.url(f"img/{n}") for n in fake.order})


def test_no_network_one_error_and_nothing_written(tmp_path, fake):
    dead = f"http://127.0.0.1:{unused_port()}/"
    ds = Dataset(tmp_path / "data" / "ds")
    # the up-front check fails
    with pytest.raises(CollectError) as err:
        run_collect(ds, make_engine(dead, dead))
    assert str(err.value).startswith(f"cannot reach 127.0.0.1:{dead.split(':')[2][:-1]}")
    assert "nothing was written" in str(err.value)
    assert not (tmp_path / "data").exists()
    # the check passes but every request of the crawl fails
    with pytest.raises(CollectError, match="no network\\? nothing was written"):
        run_collect(ds, make_engine(dead, fake.url()))
    assert not (tmp_path / "data").exists()


def test_engine_registry_matches_icrawler_filters():
    for name, spec in ENGINES.items():
        feeder_cls = spec.crawler.__init__.__defaults__[0]
        rules = feeder_cls.get_filter(None).rules
        choices = tuple(rules["license"][1]) if "license" in rules else ()
        assert set(spec.licences) == set(choices), name
        assert spec.name == name and spec.host
        for value in spec.licences:
            assert value in LICENCE_TEXT
    assert licence_record(ENGINES["baidu"], None)[0] == "none (baidu has no licence filter)"
    assert licence_record(ENGINES["bing"], None) == (
        "none", "unknown: no licence filter (verify per image)")
    with pytest.raises(CollectError, match="baidu has no licence filter"):
        licence_record(ENGINES["baidu"], "commercial")
    with pytest.raises(CollectError, match="choose one of"):
        licence_record(ENGINES["google"], "publicdomain")
    assert build_query("tokyo street", [" art", "-food", "", "street art", "Art"]) == \
        'tokyo street -art -food -"street art"'


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_collect_and_one_line_errors(tmp_path, fake, engine, monkeypatch):
    monkeypatch.setitem(ENGINES, "loopback", engine)
    root = tmp_path / "data"
    res = cli("data", "collect", "--dataset", "streets", "--data-root", root, "--class", "tokyo",
              "--query", "tokyo street photo", "--exclude", "art,fashion,food,painting,graffiti",
              "--max", 3, "--engine", "loopback", "--licence-filter", "commercial", "--workers", 1)
    assert res.exit_code == 0, res.output
    assert "3/3 tokyo images" in res.output and "rejected" in res.output
    df = Dataset(root / "streets").read()
    assert len(df) == 3 and set(df["licence_filter"]) == {"commercial"}
    assert set(df["query"]) == {"tokyo street photo -art -fashion -food -painting -graffiti"}

    dead = f"http://127.0.0.1:{unused_port()}/"
    monkeypatch.setitem(ENGINES, "offline", make_engine(dead, dead))
    for args, expect in [
        (("--engine", "offline"), "no network? nothing was written"),
        (("--engine", "altavista"), "unknown engine 'altavista'"),
        (("--engine", "baidu", "--licence-filter", "commercial"), "baidu has no licence filter"),
        (("--engine", "offline", "--class", "osaka"), "have no group"),
    ]:
        base = ["data", "collect", "--dataset", tmp_path / "off", "--class", "tokyo"]
        res = cli(*base, *args)
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert res.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error:"), res.output
        assert expect in lines[0]
    assert not (tmp_path / "off").exists()
    # a new class with its group on the command line
    res = cli("data", "collect", "--dataset", tmp_path / "off", "--class", "osaka",
              "--group", "East", "--engine", "offline")
    assert res.exit_code == 1 and "cannot reach" in res.output


@pytest.mark.parametrize("name, licence, expect", [
    ("bing", "noncommercial,modify", "filterui:license-L2_L3_L5_L6"),
    ("google", "commercial", "sur%3Afc"),
    ("baidu", None, "word=tokyo%20street%20-art%20-food"),
])
def test_real_engines_build_their_crawl_offline(tmp_path, name, licence, expect):
    """The real crawler classes take our downloader and get the query with its -word
    terms and licence filter (feeder only: no thread starts, no request is made)."""
    from analysis.data.collect.crawl import CrawlState, RecordingDownloader, SourceLog, make_crawler

    spec = ENGINES[name]
    state = CrawlState(SourceLog(tmp_path / SOURCES_LOG), set(), {"class": "tokyo"}, 5, False)
    crawler = make_crawler(spec, tmp_path / "staging", state, threads=1)
    assert isinstance(crawler.downloader, RecordingDownloader)
    keyword = build_query("tokyo street", ["art", "food"])
    if spec.quote_query:
        from urllib.parse import quote
        keyword = quote(keyword, safe="")
    crawler.feeder.feed(keyword=keyword, offset=0, max_num=1,
                        filters={"license": licence} if licence else None)
    page = crawler.feeder.out_queue.get_nowait()
    assert urlsplit(page).netloc.endswith(spec.host.split(".", 1)[1]) and expect in page
    assert not (tmp_path / "staging").exists()


def test_requests_are_retried_by_urllib3_and_counted(tmp_path, fake, engine):
    """The session's adapter is urllib3's Retry (a 503 is retried, a 404 is final) and
    counts answers, so a crawl of a dead engine stops after a few failed requests."""
    from analysis.data.collect.crawl import RETRY, CountingAdapter, CrawlState, SourceLog, make_crawler

    state = CrawlState(SourceLog(tmp_path / SOURCES_LOG), set(), {"class": "tokyo"}, 5, False)
    crawler = make_crawler(engine, tmp_path / "staging", state, threads=1)
    adapter = crawler.session.get_adapter(fake.url())
    assert isinstance(adapter, CountingAdapter) and adapter.max_retries is RETRY
    assert RETRY.total == 2 and 503 in RETRY.status_forcelist and 404 not in RETRY.status_forcelist
    fake.fail_first = {"0.jpg"}
    ok = crawler.session.get(fake.url("img/0.jpg"), timeout=5)
    assert ok.status_code == 200 and fake.fetched == ["0.jpg"]  # the 503 was retried
    assert crawler.session.get(fake.url("img/none.jpg"), timeout=5).status_code == 404
    assert state.requests_ok == 2 and state.errors_by_url[fake.url("img/none.jpg")] == "HTTP 404"
    # a dead engine: after a few failed requests and none answered, the crawl is told to stop
    dead = f"http://127.0.0.1:{unused_port()}/"
    state = CrawlState(SourceLog(tmp_path / SOURCES_LOG), set(), {"class": "tokyo"}, 5, False)
    crawler = make_crawler(make_engine(dead, dead), tmp_path / "staging", state, threads=1)
    for _ in range(3):
        with pytest.raises(Exception):
            crawler.session.get(dead, timeout=2)
    assert state.requests_failed == 3 and crawler.signal.get("reach_max_num")


def test_every_fetched_file_goes_to_the_import_checks(tmp_path, fake, engine):
    """A file that is no image at all is staged and rejected by the import checks, by its
    URL, not silently dropped by the downloader as a failed download."""
    fake.images["page.jpg"] = b"<html>an error page, not a photo</html>"
    fake.order = ["page.jpg", "0.jpg"]
    ds, page_url = Dataset(tmp_path / "ds"), fake.url("img/page.jpg")
    report = run_collect(ds, engine, max_images=1)
    assert report.failed == 0 and report.downloaded == 2 and report.added == 1
    assert [src for src, _ in report.rejected] == list(ds.read_rejects()["source"]) == [page_url]
