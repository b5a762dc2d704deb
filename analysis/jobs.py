"""Background jobs for the dashboard: the demo build, curation scores, training, analysis,
reliability — each a ``streetlens`` command in its own process.

A job is a folder (:class:`~analysis.store.JobFiles`): the command writes its own progress
there as JSON (``streetlens --progress-file F …``, see :mod:`analysis.progress`) and its
output goes to a log beside it. :func:`job_status` reads that JSON and asks the operating
system (psutil) whether the process still runs; nothing parses the output. A job started
by a dashboard that has since restarted is still found, by its folder and pid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from analysis.store import JobFiles, write_json_atomic

PROJECT_ROOT = Path(__file__).resolve().parents[1]
START_GRACE_S = 30.0  # a job that has not written its progress after this long never started
_children: dict[str, subprocess.Popen] = {}  # jobs this process started, so they are reaped


@dataclass
class JobStatus:
    """What a job is doing, from its own progress file."""

    job_id: str
    state: str  # starting / running / done / failed
    fraction: float = 0.0
    step: str = ""
    done: float = 0
    total: float = 0
    message: str = ""
    log_tail: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.state in ("starting", "running")


def start_job(job_id: str, args: Sequence[str], cache_root: Path | str,
              env: dict[str, str] | None = None) -> int:
    """Run ``streetlens ARGS`` in the background as job ``job_id``; returns its pid at once.

    ``env`` adds variables (e.g. the dashboard's data, models and cache roots)."""
    files = JobFiles.under(cache_root, job_id)
    files.root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(files.progress, {"state": "starting", "time": time.time(), "fraction": 0.0})
    cmd = [sys.executable, "-m", "analysis.cli", "--progress-file", str(files.progress.resolve()), *args]
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), full_env.get("PYTHONPATH", "")) if p)
    with open(files.log, "w") as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    _children[str(files.root)] = proc
    return proc.pid


def _alive(pid: int | None) -> bool:
    """Whether process ``pid`` still runs (a finished child not yet reaped does not)."""
    if not pid:
        return False
    try:
        return psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def job_status(job_id: str, cache_root: Path | str, tail: int = 12) -> JobStatus | None:
    """The job's state (None when it was never started under ``cache_root``)."""
    files = JobFiles.under(cache_root, job_id)
    try:
        prog = json.loads(files.progress.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    lines = files.log.read_text(errors="replace").splitlines() if files.log.is_file() else []
    lines = [ln.rsplit("\r", 1)[-1] for ln in lines if ln.strip()]  # a bar's latest redraw
    status = JobStatus(job_id, prog.get("state", "starting"), float(prog.get("fraction", 0.0)),
                       prog.get("step", ""), prog.get("done", 0), prog.get("total", 0),
                       prog.get("message", ""), lines[-tail:])
    if not status.running:
        return status
    proc = _children.get(str(files.root))
    if proc is not None:
        exited = proc.poll() is not None
    elif status.state == "starting":
        exited = time.time() - float(prog.get("time", 0)) > START_GRACE_S
    else:
        exited = not _alive(prog.get("pid"))
    if exited:  # it stopped without saying so: killed, or crashed before it could
        status.state = "failed"
        status.message = status.message or (" / ".join(lines[-3:]) or "the process stopped")
    return status


# ------------------------------------------------------------ the commands the dashboard runs
def roots_env(data_root: Path, models_root: Path, cache_root: Path) -> dict[str, str]:
    """The environment that points a job at the dashboard's folders."""
    return {"STREETLENS_DATA": str(Path(data_root).resolve()),
            "STREETLENS_MODELS": str(Path(models_root).resolve()),
            "STREETLENS_CACHE": str(Path(cache_root).resolve())}


def demo_args(data_root: Path, models_root: Path, cache_root: Path) -> list[str]:
    return ["demo", "--data-root", str(data_root), "--models-root", str(models_root),
            "--cache-root", str(cache_root)]


def scores_args(dataset_root: Path, run: str | None = None) -> list[str]:
    return ["data", "scores", "--dataset", str(Path(dataset_root).resolve()), "--no-progress-bar",
            *(["--run", run] if run else [])]


def reliability_args(run: str) -> list[str]:
    return ["reliability", run]


def train_args(dataset: str, backbone: str, mode: str) -> list[str]:
    return ["train", "--dataset", dataset, "--backbone", backbone, "--mode", mode]


def scores_job_id(dataset_root: Path) -> str:
    return f"scores-{Path(dataset_root).resolve().name}"
