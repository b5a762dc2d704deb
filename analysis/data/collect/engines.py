"""The image search engines a crawl can use: one registry entry each (an icrawler crawler
class, a URL for the cheap connectivity check, the licence-filter values it understands),
and what a crawl records about its query and licence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from icrawler.builtin import BaiduImageCrawler, BingImageCrawler, GoogleImageCrawler

PROBE_TIMEOUT = 5.0  # seconds for the up-front connectivity check


class CollectError(ValueError):
    """A crawl that cannot run as asked (no network, bad engine or filter); one line."""


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
