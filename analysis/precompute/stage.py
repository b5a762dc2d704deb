"""What a precompute stage declares, and how the runner finds every stage.

A stage is one module in :mod:`analysis.precompute.stages` that defines ``STAGE``, a
:class:`Stage`: its name, the cache artefacts it reads and writes (names from
:data:`analysis.store.ARTEFACTS`, or new ones it declares and the store names), a
version to bump when its results change, the
parameters it depends on, and its run function. The runner orders stages by what they
read, so adding a stage means adding one module — the CLI's ``--stages`` and the
dashboard's "not computed yet" hints read the descriptors.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.store import ARTEFACTS, declare


@dataclass(frozen=True)
class Stage:
    name: str
    doc: str  # one line: what a user gets from it
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    run: Callable[..., dict]  # run(ctx) -> information for the manifest
    version: int = 1
    params: tuple[str, ...] = ()  # AnalyzeConfig fields (or ``extra`` keys) it depends on
    defaults: Mapping[str, Any] = field(default_factory=dict)  # for parameters without a field
    default: bool = True  # part of a plain ``streetlens analyze``
    order: int = 100  # tie-break for stages that do not depend on each other
    command: str = "streetlens analyze {run} --stages {stage}"  # how a user runs it alone
    new_artefacts: tuple[tuple[str, str, str], ...] = ()
    """(name, kind, doc) of artefacts this stage introduces; the store names their files."""

    def __post_init__(self) -> None:
        for name, kind, doc in self.new_artefacts:
            declare(name, kind, doc)

    def check(self) -> None:
        """Every artefact it reads or writes is known (once every stage has declared its own:
        a stage may read what a stage in a later module declares)."""
        unknown = [a for a in (*self.reads, *self.writes) if a not in ARTEFACTS]
        if unknown:
            raise ValueError(f"stage {self.name}: unknown artefact(s) {', '.join(unknown)}")


def all_stages() -> dict[str, Stage]:
    """Every stage module's descriptor, in run order (dependencies first)."""
    from analysis.precompute import stages as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        stage = getattr(module, "STAGE", None)
        if isinstance(stage, Stage):
            found.append(stage)
    for stage in found:
        stage.check()
    return {s.name: s for s in topological(found)}


def producers(stages: Mapping[str, Stage]) -> dict[str, Stage]:
    """artefact name → the stage that writes it."""
    return {a: s for s in stages.values() for a in s.writes}


def topological(stages: list[Stage]) -> list[Stage]:
    """Stages ordered so that every stage comes after those that write what it reads."""
    by_artefact = {a: s.name for s in stages for a in s.writes}
    pending = sorted(stages, key=lambda s: (s.order, s.name))
    done: list[Stage] = []
    names: set[str] = set()
    while pending:
        ready = [s for s in pending
                 if all(by_artefact.get(a) in names | {None, s.name} for a in s.reads)]
        if not ready:
            raise ValueError("stages read each other's outputs in a circle: "
                             + ", ".join(s.name for s in pending))
        done.append(ready[0])
        names.add(ready[0].name)
        pending.remove(ready[0])
    return done


def missing_hint(run_name: str, artefact: str) -> str:
    """What a user runs to get ``artefact`` (for the dashboard's "not computed yet")."""
    stage = producers(all_stages()).get(artefact)
    if stage is None:
        return f"`streetlens analyze {run_name}`"
    return "`" + stage.command.format(run=run_name, stage=stage.name) + "`"
