"""A job's progress file: written by the job itself, fraction from phases and bars."""

import json

from analysis import progress


def read(path):
    return json.loads(path.read_text())


def test_phases_and_bars_give_the_fraction(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "MIN_INTERVAL_S", 0.0)
    f = tmp_path / "p.json"
    progress.report_to(f)
    try:
        assert read(f)["state"] == "running" and read(f)["fraction"] == 0.0
        with progress.phases(4) as parts:
            parts.start("draw")
            with progress.bar(total=10, desc="drawing", disable=True) as b:
                b.update(5)
                assert read(f)["fraction"] == 0.125  # half of the first of four parts
                assert read(f)["step"] == "draw · drawing" and read(f)["done"] == 5
            parts.start("train")
            with progress.phases(2) as inner:  # nested: analysis inside the demo
                inner.start("forward")
                inner.start("map")
                for _ in progress.bar(range(4), disable=True):
                    pass
                assert read(f)["fraction"] == (1 + (1 + 1.0) / 2) / 4
        progress.finish(True)
        assert read(f)["state"] == "done" and read(f)["fraction"] == 1.0
        progress.finish(False, "disk full")
        assert read(f)["state"] == "failed" and read(f)["message"] == "disk full"
    finally:
        progress.report_to(None)


def test_without_a_job_nothing_is_written(tmp_path):
    progress.report_to(None)
    with progress.phases(2) as parts:
        parts.start("a")
        for _ in progress.bar([1, 2], disable=True):
            pass
    progress.finish(True)
    assert list(tmp_path.iterdir()) == []


def test_updates_are_throttled(tmp_path, monkeypatch):
    writes = []
    monkeypatch.setattr(progress, "write_json_atomic", lambda path, obj: writes.append(obj))
    progress.report_to(tmp_path / "p.json")
    try:
        with progress.bar(total=1000, disable=True) as b:
            for _ in range(1000):
                b.update(1)
    finally:
        progress.report_to(None)
    # the first, the closing one, and none of the 1000 updates in between (well under 0.25 s)
    assert 2 <= len(writes) <= 6 and writes[-1]["done"] == 1000
