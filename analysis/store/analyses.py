"""Names of analyses beyond a run's own: a run analysed on another dataset
(``<run>@<dataset>``) and results about two runs together (``cache/compare/``)."""

from __future__ import annotations

from pathlib import Path

from analysis.store.cache import MANIFEST_FILE, default_cache_root

ON = "@"
"""``<run>@<dataset>``: the analysis of a run on a dataset other than its own."""


def split_analysis(name: str) -> tuple[str, str | None]:
    """``"run@crawl"`` → ``("run", "crawl")``; a plain run name → ``(name, None)``."""
    run, sep, dataset = str(name).partition(ON)
    return run, (dataset or None) if sep else None


def analysis_name(run: str, dataset: str | None = None) -> str:
    """The cache name of ``run``'s analysis: ``run`` on its own data, ``run@dataset`` on another."""
    return f"{run}{ON}{dataset}" if dataset else run


def analyses_of(run: str, cache_root: Path | str | None = None) -> list[str]:
    """The names of ``run``'s analyses on other datasets that exist under ``cache_root``."""
    root = Path(cache_root or default_cache_root())
    return sorted(p.parent.name for p in root.glob(f"{run}{ON}*/{MANIFEST_FILE}"))


def pair_file(cache_root: Path | str | None, run_a: str, run_b: str, what: str) -> Path:
    """A result about two runs together (``cache/compare/<A>--<B>/<what>.parquet``), e.g.
    their per-layer CKA: it belongs to neither run's own cache."""
    return Path(cache_root or default_cache_root()) / "compare" / f"{run_a}--{run_b}" / f"{what}.parquet"
