"""Train what an experiment's grid still lacks: a finished run (its folder has its
info file, written last and atomically by ``save_run``) is skipped, so an interrupted
experiment resumes where it stopped and never trains a run twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from analysis.experiment.grid import Cell, Experiment, ExperimentError, cell_of
from analysis.progress import phases
from analysis.train.runs import RunError, open_run
from analysis.train.trainer import TrainConfig, train


@dataclass
class Progress:
    done: list[str]  # finished before this call
    trained: list[str]  # trained by this call
    total: int


def finished(exp: Experiment, cell: Cell, models_root: Path) -> bool:
    """Whether ``cell`` has its run. A run folder of the same name that belongs to another
    experiment or another grid point is an error, never silently reused or overwritten."""
    name = cell.run_name(exp.name)
    try:
        run = open_run(name, models_root)
    except RunError:
        return False
    cfg = run.info.get("config", {})
    owner = cfg.get("extra", {}).get("experiment")
    if owner != exp.name or cell_of(run.info) != cell:
        raise ExperimentError(f"run {name} already exists and is not this experiment's {cell.config} "
                              f"f={cell.fraction:g} seed {cell.seed}; choose another --name")
    if run.info.get("dataset", {}).get("name") != Path(exp.dataset).name:
        raise ExperimentError(f"run {name} was trained on dataset {run.info.get('dataset', {}).get('name')!r}, "
                              f"not {exp.dataset!r}; choose another --name")
    return True


def check_against_saved(exp: Experiment, models_root: Path) -> None:
    """A rerun may grow the grid; it may not move it to another dataset."""
    try:
        old = Experiment.load(models_root, exp.name)
    except ExperimentError:
        return
    if Path(old.dataset).name != Path(exp.dataset).name:
        raise ExperimentError(f"experiment {exp.name!r} is on dataset {old.dataset!r}, not {exp.dataset!r}; "
                              "choose another --name")


def run_experiment(exp: Experiment, *, models_root: Path, data_root: Path | None = None,
                   cache_root: Path | str = "cache", progress: bool = True,
                   log: Callable[[str], None] = print) -> Progress:
    """Train every missing run of ``exp`` (full-data runs first), one after another."""
    models_root = Path(models_root)
    check_against_saved(exp, models_root)
    unknown = sorted(set(exp.train) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise ExperimentError(f"unknown training settings: {', '.join(unknown)}")
    cells = exp.cells()
    done = [c.run_name(exp.name) for c in cells if finished(exp, c, models_root)]
    exp.save(models_root)
    todo = [c for c in cells if c.run_name(exp.name) not in done]
    log(f"experiment {exp.name}: {len(cells)} runs, {len(done)} finished, {len(todo)} to train")
    trained = []
    with phases(max(1, len(todo))) as steps:
        for i, cell in enumerate(todo, 1):
            name = cell.run_name(exp.name)
            steps.start(f"training {name}")
            t0 = time.perf_counter()
            config = TrainConfig(**{
                **exp.train, "dataset": exp.dataset, "backbone": cell.backbone, "mode": cell.mode,
                "seed": cell.seed, "train_fraction": cell.fraction, "name": name,
                "models_root": str(models_root), "cache_root": str(cache_root),
                "data_root": str(data_root) if data_root else None,
                "extra": {**exp.train.get("extra", {}), "experiment": exp.name},
            })
            run = train(config, progress=progress)
            trained.append(name)
            acc = run.info["metrics"]["test"]["city"]["accuracy"]
            log(f"[{len(done) + i}/{len(cells)}] {name}: test city accuracy {acc:.3f} "
                f"({time.perf_counter() - t0:.0f} s)")
    return Progress(done, trained, len(cells))
