"""The folder of one background job, ``cache/jobs/<job>/``: its progress and its log.

The job writes ``progress.json`` itself (state, step, fraction, message, pid) and its
output goes to ``log.txt``; the dashboard only reads them, it never parses the output.
"""

from __future__ import annotations

from pathlib import Path

from analysis.store.files import Folder

JOBS_FOLDER = "jobs"


class JobFiles(Folder):

    @classmethod
    def under(cls, cache_root: Path | str, job_id: str) -> "JobFiles":
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in job_id)
        return cls(Path(cache_root) / JOBS_FOLDER / safe)

    @property
    def progress(self) -> Path:
        return self.root / "progress.json"

    @property
    def log(self) -> Path:
        return self.root / "log.txt"
