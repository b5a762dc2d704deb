"""Progress of long work: a tqdm bar in the terminal, and JSON written by the job itself.

Every loop that takes more than a second goes through :func:`bar` (the tqdm arguments we
use: ``total``, ``initial``, ``desc``, ``unit``, ``disable``). When the process is a
background job (``streetlens --progress-file F …``, started by :mod:`analysis.jobs`),
the same updates are written to ``F`` as JSON — state, step, fraction, message, pid — so
the dashboard shows progress without parsing any output. Work made of several parts
(the demo: draw, train each run, analyse each run) announces them with :func:`phases`;
the fraction then counts the parts done plus the running bar's share of the current one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from analysis.store.files import write_json_atomic

MIN_INTERVAL_S = 0.25  # a job's JSON is rewritten at most this often (and at every phase)


class JobReport:
    """The progress file of a running job; the job is the only writer."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.levels: list[list] = []  # [index, total, part label] per nesting level of phases
        self.bar: tuple[float, float, str] | None = None  # (done, total, desc) of the running bar
        self._last = 0.0
        self.write("running", force=True)

    def fraction(self) -> float:
        inner = 0.0
        if self.bar is not None and self.bar[1]:
            inner = min(1.0, self.bar[0] / self.bar[1])
        for index, total, _ in reversed(self.levels):
            inner = (index + inner) / max(total, 1)
        return min(inner, 1.0)

    def step_label(self) -> str:
        labels = [label for _, _, label in self.levels if label]
        if self.bar is not None and self.bar[2]:
            labels.append(self.bar[2])
        return " · ".join(labels)

    def write(self, state: str, message: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < MIN_INTERVAL_S:
            return
        self._last = now
        done, total, _ = self.bar or (0, 0, "")
        fraction = 1.0 if state == "done" else self.fraction()
        write_json_atomic(self.path, {
            "state": state, "pid": os.getpid(), "time": time.time(), "fraction": round(fraction, 4),
            "step": self.step_label(), "done": done, "total": total, "message": message})


_report: JobReport | None = None


def report_to(path: Path | str | None) -> JobReport | None:
    """Write this process's progress to ``path`` from now on (None: stop)."""
    global _report
    _report = JobReport(path) if path else None
    return _report


def finish(ok: bool, message: str = "") -> None:
    """The job's last word: ``done``, or ``failed`` with a one-line reason."""
    if _report is not None:
        _report.write("done" if ok else "failed", message, force=True)


@contextmanager
def phases(total: int) -> Iterator["Phases"]:
    """A piece of work in ``total`` parts; :meth:`Phases.start` announces each part."""
    level = [0, total, ""]
    if _report is not None:
        _report.levels.append(level)
    try:
        yield Phases(level)
    finally:
        if _report is not None and _report.levels and _report.levels[-1] is level:
            _report.levels.pop()


class Phases:
    def __init__(self, level: list):
        self.level = level
        self.started = False

    def start(self, label: str) -> None:
        """The next part begins (the first call: part 1)."""
        if self.started:
            self.level[0] += 1
        self.started = True
        self.level[2] = label
        if _report is not None:
            _report.bar = None
            _report.write("running", force=True)


class bar:  # noqa: N801 - used like tqdm
    """tqdm's bar, whose updates also reach the job's progress file."""

    def __init__(self, iterable: Iterable | None = None, *, total: float | None = None,
                 initial: float = 0, desc: str = "", unit: str = "it", disable: bool = False):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.n, self.desc = iterable, total, initial, desc
        self._tqdm = tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=disable)
        self._report()

    def _report(self, force: bool = False) -> None:
        if _report is not None:
            _report.bar = (self.n, self.total or 0, self.desc)
            _report.write("running", force=force)

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        self._tqdm.update(n)
        self._report()

    def set_postfix_str(self, text: str) -> None:
        self._tqdm.set_postfix_str(text)

    def set_postfix(self, **values) -> None:
        self._tqdm.set_postfix(**values)

    def close(self) -> None:
        self._tqdm.close()
        self._report(force=True)

    def __enter__(self) -> "bar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
