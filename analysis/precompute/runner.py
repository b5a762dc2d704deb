"""``streetlens analyze RUN``: run (or resume) the selected stages in dependency order.

Each stage's *fingerprint* hashes its name, version and parameters with the fingerprints
of the stages whose artefacts it reads. A stage whose recorded fingerprint matches is
skipped; one whose fingerprint changed is rerun after its old artefacts — and those of
every stage downstream of it — are removed. A stage that needs an artefact nobody has
computed yet brings its producer along. The cache as a whole belongs to one model file
and one dataset state: computed for another, it is discarded and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from analysis import progress as job_progress
from analysis.allocator import keep_freed_memory
from analysis.data.dataset import Dataset, DatasetError, fingerprint
from analysis.cluster import preflight
from analysis.nets.device import choose_device
from analysis.precompute.config import AnalyzeConfig
from analysis.precompute.context import Context
from analysis.precompute.engines import engine
from analysis.precompute.stage import Stage, all_stages, producers
from analysis.store import SCHEMA_VERSION, RunCache, analysis_name, default_cache_root, file_fingerprint, split_analysis
from analysis.train.runs import Run, code_version, open_run


def dataset_for_run(run: Run, dataset: str | Path | None = None) -> Dataset:
    ds = Dataset.open(dataset) if dataset else Dataset(Path(run.info["dataset"]["path"]))
    if not ds.exists():
        raise DatasetError(f"the dataset of run {run.name} is not at {ds.root}; pass --dataset PATH")
    return ds


def default_stages() -> tuple[str, ...]:
    return tuple(name for name, s in all_stages().items() if s.default)


def plan(selected: tuple[str, ...], cache: RunCache, stages: dict[str, Stage]) -> list[Stage]:
    """The selected (known) stages plus the producers of any input not in the cache yet,
    in run order."""
    by_artefact = producers(stages)
    wanted = set(selected)
    todo = list(selected)
    while todo:
        for artefact in stages[todo.pop()].reads:
            producer = by_artefact.get(artefact)
            if producer and producer.name not in wanted and not cache.stage_done(producer.name):
                wanted.add(producer.name)
                todo.append(producer.name)
    return [s for name, s in stages.items() if name in wanted]


def downstream(name: str, stages: dict[str, Stage]) -> list[str]:
    """Every stage that reads, directly or not, what stage ``name`` writes."""
    out: list[str] = []
    frontier = set(stages[name].writes)
    for s in stages.values():  # run order: readers come after their producers
        if s.name != name and frontier & set(s.reads):
            out.append(s.name)
            frontier |= set(s.writes)
    return out


def stage_fingerprint(stage: Stage, params: dict, cache: RunCache, stages: dict[str, Stage]) -> str:
    by_artefact = producers(stages)
    upstream = sorted({by_artefact[a].name for a in stage.reads if a in by_artefact})
    parts = {"stage": stage.name, "version": stage.version, "params": params,
             "upstream": {u: cache.stage_record(u).get("fingerprint") for u in upstream}}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _is_current(record: dict, fp: str, params: dict) -> bool:
    if not record.get("done"):
        return False
    if "fingerprint" in record:
        return record["fingerprint"] == fp
    return record.get("params") == params  # a cache from before fingerprints: params decide


def _discard(name: str, cache: RunCache, stages: dict[str, Stage]) -> None:
    for stale in (name, *downstream(name, stages)):
        if cache.stage_record(stale):
            for artefact in stages[stale].writes:
                cache.remove(artefact)
            cache.forget_stage(stale)


def cache_name(run: Run, ds: Dataset, data_fingerprint: str) -> str:
    """``<run>`` for the run's own dataset — at its path, or moved elsewhere (the same
    images, labels and splits, ``data_fingerprint``) — and ``<run>@<dataset>`` for any other."""
    own = Path(ds.root).resolve() == Path(run.info["dataset"]["path"]).resolve() or \
        data_fingerprint == run.info["dataset"].get("fingerprint")
    return analysis_name(run.name, None if own else ds.name)


def open_cache(run: Run, rows, ds: Dataset, cache_root: Path | None, log: Callable[[str], None],
               shard_rows: int = 256) -> tuple[RunCache, dict]:
    """The run's cache, reset when it was computed for another model or dataset. A run
    analysed on a dataset other than its own (``--dataset OTHER``) gets a cache of its own,
    ``<run>@<dataset>``: the run's analysis of its own data is never overwritten."""
    data_fingerprint = fingerprint(rows)  # once: 1.5 s at a million rows
    cache = RunCache.for_run(cache_name(run, ds, data_fingerprint), cache_root or default_cache_root())
    if cache.name != run.name:
        log(f"dataset {ds.name} is not the one {run.name} was trained on: its analysis goes to {cache.root} "
            "(the run's own analysis stays as it is)")
    key = {"schema": SCHEMA_VERSION, "model_fingerprint": file_fingerprint(run.files.model),
           "dataset_fingerprint": data_fingerprint}
    if cache.exists() and {k: cache.manifest.get(k) for k in key} != key:
        log(f"cache {cache.root} was computed for another model or dataset: recomputing")
        cache.reset()
    if not cache.exists():
        cache.manifest = {**key, "run": run.name, "stages": {}, "n_images": len(rows),
                          "code_version": code_version(), "dataset": str(ds.root), "shard_rows": shard_rows}
        cache.save_manifest()
    return cache, key


def analyze(run_name: str | Path, *, config: AnalyzeConfig | None = None, dataset: str | None = None,
            cache_root: Path | None = None, models_root: Path | None = None,
            progress: bool = True, log: Callable[[str], None] = print) -> RunCache:
    """Run (or resume) every selected stage for a run; returns the cache. Freed memory is
    kept for reuse from here on (``analysis.allocator``: a third of a forward pass was the
    kernel faulting in memory it had just given back)."""
    keep_freed_memory()
    config = config or AnalyzeConfig()
    stages = all_stages()
    selected = tuple(config.stages) if config.stages is not None else default_stages()
    unknown = [s for s in selected if s not in stages]
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(stages)}")
    if config.engine != "local":
        engine(config.engine)  # an unknown engine: one line, before any work
        if config.engine == "ray":
            preflight(config.address)  # Ray installed, the cluster answering: within seconds
    run_part, on = split_analysis(str(run_name)) if not Path(str(run_name)).is_dir() else (run_name, None)
    run = open_run(run_part, models_root)
    if on and not dataset:  # `analyze RUN@DATASET`: the dataset that analysis was made on
        known = RunCache.for_run(analysis_name(run.name, on), cache_root or default_cache_root()).manifest.get("dataset")
        dataset = known or on
    ds = dataset_for_run(run, dataset)
    rows = ds.usable()
    unknown_classes = sorted(set(rows["class"]) - set(run.labels.classes))
    if unknown_classes:
        raise DatasetError(f"dataset {ds.name} has classes the run {run.name} never saw: "
                           f"{', '.join(unknown_classes)}")
    unknown = [s for s in config.redo if s not in stages]
    if unknown:
        raise ValueError(f"cannot redo unknown stage(s) {', '.join(unknown)}; choose from {', '.join(stages)}")
    cache, key = open_cache(run, rows, ds, cache_root, log, config.shard_rows)
    with cache.writing():
        return _run_stages(cache, key, run, ds, rows, config, stages, selected, progress, log)


def check_shards(cache: RunCache, stages: dict[str, Stage], full: bool, log: Callable[[str], None]) -> None:
    """A finished stage whose shards are missing, truncated or (``full``) corrupt goes back
    to unfinished with just those shards forgotten: the run then writes only them again.
    Its fingerprint is kept, so what was computed from it stays (the values come back the same)."""
    for name in stages:
        record = cache.stage_record(name)
        if not record.get("done") or "shards" not in record:
            continue
        shards = cache.shard_set(name)
        damaged = shards.damaged(full=full)
        if not damaged:
            continue
        for index, why in damaged[:5]:
            a, b = shards.layout.bounds(index)
            log(f"{name}: shard {index} (images {a}–{b - 1}) is damaged: {why}; computing it again")
        if len(damaged) > 5:
            log(f"{name}: … and {len(damaged) - 5} more damaged shards")
        shards.drop([i for i, _ in damaged])
        cache.start_stage(name, **{k: v for k, v in record.items() if k in ("fingerprint", "params")})


def _run_stages(cache: RunCache, key: dict, run: Run, ds: Dataset, rows, config: AnalyzeConfig,
                stages: dict[str, Stage], selected: tuple[str, ...], progress: bool,
                log: Callable[[str], None]) -> RunCache:
    check_shards(cache, stages, config.verify, log)
    for name in config.redo:
        _discard(name, cache, stages)
    if config.redo:
        cache.save_manifest()
    if key["dataset_fingerprint"] != run.info["dataset"]["fingerprint"]:
        log(f"note: dataset {ds.name} changed since {run.name} was trained "
            "(images, labels or splits); the analysis uses the dataset as it is now")
    ctx = Context(run, ds, rows, cache, config, choose_device(config.device), progress, key)
    todo = plan(tuple(dict.fromkeys((*selected, *config.redo))), cache, stages)
    with job_progress.phases(len(todo)) as parts:
        for stage in todo:
            parts.start(stage.name)
            params = ctx.params(stage)
            fp = stage_fingerprint(stage, params, cache, stages)
            record = cache.stage_record(stage.name)
            if _is_current(record, fp, params):
                if "fingerprint" not in record:  # remember it from now on
                    cache.mark_stage(stage.name, record.get("seconds", 0.0),
                                     **{k: v for k, v in record.items() if k not in ("done", "seconds")},
                                     fingerprint=fp)
                log(f"{stage.name:<10} cached")
                continue
            resuming = bool(record) and not record.get("done") and record.get("fingerprint") == fp
            if record and not resuming:  # computed (or begun) with other parameters or inputs:
                _discard(stage.name, cache, stages)  # drop it and what depends on it
            cache.start_stage(stage.name, fingerprint=fp, params=params)
            ctx.stage = stage
            t0 = time.perf_counter()
            info = stage.run(ctx) or {}
            seconds = time.perf_counter() - t0
            cache.record_artefacts(stage.writes)
            cache.mark_stage(stage.name, seconds, params=params, version=stage.version,
                             fingerprint=fp, **info)
            log(f"{stage.name:<10} {seconds:7.1f} s")
    return cache


def summary_lines(cache: RunCache) -> list[str]:
    stages = cache.manifest.get("stages", {})
    total = sum(s.get("seconds", 0) for s in stages.values())
    lines = [f"analysis of {cache.manifest.get('run')} in {cache.root}: "
             f"{cache.manifest.get('n_images')} images"]
    lines += [f"  {name:<10} {s.get('seconds', 0):7.1f} s" for name, s in stages.items()]
    lines.append(f"  {'total':<10} {total:7.1f} s")
    return lines
