"""Background jobs: a real ``streetlens`` process that writes its own progress; the state
comes from that JSON and from the operating system, never from parsing output."""

import json
import os
import signal
import time

from analysis import jobs
from analysis.store import JobFiles


def wait(job_id, cache_root, until, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = jobs.job_status(job_id, cache_root)
        if status is not None and until(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there: {jobs.job_status(job_id, cache_root)}")


def test_a_job_reports_progress_and_success(tmp_path):
    root = tmp_path / "cache"
    assert jobs.job_status("synth", root) is None
    pid = jobs.start_job("synth", ["data", "synth", "--dataset", str(tmp_path / "d"), "--per-class", "2",
                                   "--size", "64", "--classes", "london,tokyo", "--workers", "1"], root)
    assert pid > 0
    done = wait("synth", root, lambda s: not s.running)
    assert done.state == "done" and done.fraction == 1.0, done
    assert any(": 4 added," in line for line in done.log_tail), done.log_tail
    written = json.loads(JobFiles.under(root, "synth").progress.read_text())
    assert written["pid"] == pid  # the job itself wrote it


def test_a_failing_job_says_why_in_one_line(tmp_path):
    root = tmp_path / "cache"
    jobs.start_job("bad", ["data", "summary", "--dataset", str(tmp_path / "nothing-here")], root)
    failed = wait("bad", root, lambda s: not s.running)
    assert failed.state == "failed" and "is not a streetlens dataset" in failed.message


def test_a_killed_job_is_seen_as_failed(tmp_path, monkeypatch):
    """Killed without a last word: the pid is gone, so the state cannot stay 'running' —
    also for a dashboard that did not start it (a restarted server)."""
    root = tmp_path / "cache"
    pid = jobs.start_job("slow", ["demo", "--data-root", str(tmp_path / "d"), "--models-root",
                                  str(tmp_path / "m"), "--cache-root", str(root), "--per-class", "4"], root)
    wait("slow", root, lambda s: s.state == "running" and s.step)
    os.killpg(pid, signal.SIGKILL)  # the job and its drawing processes (its own session)
    jobs._children.pop(str(JobFiles.under(root, "slow").root)).wait()  # what a restart forgets
    status = wait("slow", root, lambda s: not s.running, timeout=20)
    assert status.state == "failed"


def test_commands_for_the_dashboard(tmp_path):
    env = jobs.roots_env(tmp_path / "d", tmp_path / "m", tmp_path / "c")
    assert env["STREETLENS_DATA"] == str((tmp_path / "d").resolve())
    assert jobs.demo_args(tmp_path / "d", tmp_path / "m", tmp_path / "c")[0] == "demo"
    assert jobs.scores_args(tmp_path / "ds", run="r1")[-2:] == ["--run", "r1"]
    assert jobs.reliability_args("r1") == ["reliability", "r1"]
    assert jobs.train_args("demo", "tiny_cnn", "transfer")[:2] == ["train", "--dataset"]
    assert jobs.scores_job_id(tmp_path / "ds") == "scores-ds"
