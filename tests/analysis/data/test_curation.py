"""Curation decisions: persisted at once, never lost to a concurrent writer, logged,
undoable; the review order puts the suspicious images first and keeps groups together."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.data import curation, review
from analysis.data.dataset import Dataset, DatasetBusy
from analysis.data.importer import ImportOptions, import_folder
from analysis.data.scores import conform_scores

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def ds(tmp_path, photo_tree) -> Dataset:
    src = photo_tree({"seoul": 12, "london_on": 12})
    d = Dataset(tmp_path / "data" / "streets")
    import_folder(src, d, options=ImportOptions(workers=1), progress=False)
    return d


def ids_of(ds: Dataset, cls: str) -> list[str]:
    t = ds.read()
    return sorted(t.loc[t["class"] == cls, "id"].astype(str))


def status(ds: Dataset) -> dict[str, str]:
    t = ds.read()
    return dict(zip(t["id"].astype(str), t["curated"].astype(str)))


def fake_scores(ds: Dataset, street: dict[str, float], outlier: dict[str, float] | None = None) -> None:
    df = pd.DataFrame({"id": list(street), "street": list(street.values()),
                       "outlier": [(outlier or {}).get(i, 0.1) for i in street],
                       "scene": "street", "scene_p": 0.5, "scene_top": "street 0.50"})
    conform_scores(df).to_parquet(ds.files.scores, index=False)


def test_decisions_persist_and_are_logged(ds):
    a, b, c = ids_of(ds, "seoul")[:3]
    act = curation.decide(ds, [a, b], "accepted", who="ann", source="page")
    curation.decide(ds, [c], "rejected", who="bob", source="cli", note="a menu, not a street")
    st = status(ds)  # a fresh read of the table on disk: nothing lives only in memory
    assert st[a] == st[b] == "accepted" and st[c] == "rejected"
    assert sum(v == "unreviewed" for v in st.values()) == 21
    assert c not in set(ds.usable()["id"])
    log = [json.loads(line) for line in ds.files.curation_log.read_text().splitlines()]
    assert len(log) == 3
    first = log[0]
    assert first["who"] == "ann" and first["source"] == "page" and first["action"] == act.id
    assert first["prev"] == {"curated": "unreviewed"} and first["new"] == {"curated": "accepted"}
    assert first["time"].startswith("20") and log[2]["note"] == "a menu, not a street"
    # deciding the same again is a no-op: nothing logged, nothing written
    again = curation.decide(ds, [a], "accepted", who="ann")
    assert again.n == 0 and again.skipped == [a]
    assert len(ds.files.curation_log.read_text().splitlines()) == 3


def test_relabel_moves_class_and_group_and_undo_restores(ds):
    img = ids_of(ds, "seoul")[0]
    before = ds.read().set_index("id").loc[img]
    act = curation.decide(ds, [img], "accepted", cls="london_on", source="page")
    row = ds.read().set_index("id").loc[img]
    assert (row["class"], row["group"], row["curated"]) == ("london_on", "West", "accepted")
    assert row["path"] == before["path"]  # the file stays where it is
    assert act.kind == "relabel"
    [u] = curation.undo(ds, [act.id])
    row = ds.read().set_index("id").loc[img]
    assert (row["class"], row["group"], row["curated"]) == ("seoul", "East", "unreviewed")
    assert u.kind == "undo" and u.undoes == act.id and u.n == 1
    with pytest.raises(curation.CurationError, match="already undone"):
        curation.undo(ds, [act.id])
    with pytest.raises(curation.CurationError, match="unknown class 'osaka'"):
        curation.decide(ds, [img], cls="osaka")
    with pytest.raises(curation.CurationError, match="not in"):
        curation.decide(ds, ["nope"], "accepted")


def test_undo_keeps_later_decisions_and_undo_of_undo_redoes(ds):
    a, b, c = ids_of(ds, "london_on")[:3]
    first = curation.decide(ds, [a, b], "rejected", who="ann")
    curation.decide(ds, [b], "accepted", who="bob")  # a later, different decision on b
    curation.decide(ds, [c], "accepted", who="ann")
    # ann's last action is the accept of c; undo it, then her reject of a and b
    [u1] = curation.undo(ds, last=1, by_who="ann")
    assert status(ds)[c] == "unreviewed" and u1.undoes != first.id
    [u2] = curation.undo(ds, last=1, by_who="ann")
    assert u2.undoes == first.id
    st = status(ds)
    assert st[a] == "unreviewed"  # restored
    assert st[b] == "accepted"  # bob's newer decision survives the undo
    assert u2.skipped == [b]
    # undoing the undo re-applies the reject of a
    curation.undo(ds, [u2.id])
    assert status(ds)[a] == "rejected"
    history = curation.actions(ds)
    assert [h.kind for h in history].count("undo") == 3
    assert first.id not in curation.undone_actions(history)  # live again after the redo
    assert curation.undo(ds, last=5, by_who="nobody") == []


def _hammer(ds: Dataset, ids: list[str], decision: str, who: str) -> None:
    for i in ids:
        curation.decide(ds, [i], decision, who=who, source="page")


def test_concurrent_threads_both_decisions_survive(ds):
    seoul, london = ids_of(ds, "seoul"), ids_of(ds, "london_on")
    threads = [threading.Thread(target=_hammer, args=(ds, seoul, "accepted", "tab1")),
               threading.Thread(target=_hammer, args=(ds, london, "rejected", "tab2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st = status(ds)
    assert all(st[i] == "accepted" for i in seoul)
    assert all(st[i] == "rejected" for i in london)
    assert len(curation.read_log(ds)) == 24


WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from analysis.data import curation
    from analysis.data.dataset import Dataset
    root, go, decision, who, *ids = sys.argv[1:]
    while not Path(go).exists():
        time.sleep(0.005)
    ds = Dataset(Path(root))
    for i in ids:
        curation.decide(ds, [i], decision, who=who, source="page")
""")


def test_concurrent_processes_both_decisions_survive(ds, tmp_path):
    """Two processes (like two browser tabs served by two sessions) deciding different
    images at the same moment, each a read-modify-write of the whole table."""
    seoul, london = ids_of(ds, "seoul"), ids_of(ds, "london_on")
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(ds.root), str(go), d, w, *ids],
                              cwd=ROOT)
             for d, w, ids in (("accepted", "p1", seoul), ("rejected", "p2", london))]
    time.sleep(0.5)
    go.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    st = status(ds)
    assert all(st[i] == "accepted" for i in seoul)
    assert all(st[i] == "rejected" for i in london)
    log = curation.read_log(ds)
    assert len(log) == 24 and {e["who"] for e in log} == {"p1", "p2"}


def test_lock_times_out_with_a_clear_message(ds):
    with ds.locked():
        errors = []

        def other():
            try:
                with ds.locked(timeout=0.1):  # another thread: a separate flock, so it waits
                    pass
            except DatasetBusy as exc:
                errors.append(str(exc))

        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert errors and "locked by another writer" in errors[0]
    with ds.locked(timeout=0.1):  # released afterwards
        pass


def test_lock_is_reentrant_within_a_thread(ds):
    """An update made while this thread already holds the lock (e.g. a decision inside a
    larger read-modify-write) goes through instead of waiting for itself."""
    a = ids_of(ds, "seoul")[0]
    with ds.locked():
        with ds.locked(timeout=0.1):
            pass
        curation.decide(ds, [a], "accepted")
    assert status(ds)[a] == "accepted"
    with ds.locked(timeout=0.1):  # fully released afterwards
        pass


# A second browser session deciding one image, in its own process: it says "ready" once
# its imports are done, right before it asks for the table lock.
DECIDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from analysis.data import curation
    from analysis.data.dataset import Dataset
    root, image_id = sys.argv[1:]
    print("ready", flush=True)
    curation.decide(Dataset(Path(root)), [image_id], "rejected", who="tab", source="page")
""")


def test_decision_made_while_an_import_writes_is_kept(ds, photo_tree, tmp_path, monkeypatch):
    """An import's read-modify-write of the dataset table and a decision from another
    process, interleaved: the decision is made while the import is between its read and
    its write. It must wait for the import's lock and then land on the new table; without
    the lock the import would write its stale table over it."""
    from analysis.data import importer

    victim = ids_of(ds, "london_on")[0]
    real_split_groups = importer.split_groups
    waited: list[bool] = []
    procs: list[subprocess.Popen] = []

    def split_groups_while_a_tab_decides(table, *args):  # runs between the import's read and write
        proc = subprocess.Popen([sys.executable, "-c", DECIDER, str(ds.root), victim], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "ready"
        try:
            proc.wait(timeout=1.5)
            waited.append(False)  # it decided while the import held the table: no lock
        except subprocess.TimeoutExpired:
            waited.append(True)
        return real_split_groups(table, *args)

    monkeypatch.setattr(importer, "split_groups", split_groups_while_a_tab_decides)
    more = photo_tree({"seoul": 3, "london_on": 2}, root=tmp_path / "more", start=500)
    report = import_folder(more, ds, options=ImportOptions(workers=1), progress=False)
    assert procs[0].wait(timeout=60) == 0
    assert report.added == 5
    t = ds.read()
    assert len(t) == 29 and t["split"].notna().all()  # the import's rows are all there
    assert status(ds)[victim] == "rejected", "the import overwrote the decision"
    assert waited == [True], "the decision did not wait for the import's table lock"
    assert [e["id"] for e in curation.read_log(ds)] == [victim]


def test_decision_made_during_a_resplit_is_kept(ds, monkeypatch):
    """Same for `streetlens data split`: a decision from another thread while the split
    holds its read-modify-write waits for it and is not overwritten."""
    from analysis.data import split as split_mod

    img = ids_of(ds, "seoul")[0]
    real_assign = split_mod.assign_splits
    waited: list[bool] = []
    errors: list[BaseException] = []
    threads: list[threading.Thread] = []

    def decide():
        try:
            curation.decide(ds, [img], "accepted", who="tab", source="page")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def assign_while_a_tab_decides(*args, **kwargs):
        t = threading.Thread(target=decide)
        threads.append(t)
        t.start()
        t.join(timeout=1.0)
        waited.append(t.is_alive())
        return real_assign(*args, **kwargs)

    monkeypatch.setattr(split_mod, "assign_splits", assign_while_a_tab_decides)
    new = split_mod.resplit(ds, (0.5, 0.25, 0.25), seed=3)
    threads[0].join(timeout=60)
    assert not errors
    t = ds.read()
    assert dict(zip(t["id"], t["split"])) == dict(zip(new["id"], new["split"]))
    assert status(ds)[img] == "accepted", "the split overwrote the decision"
    assert waited == [True], "the decision did not wait for the split's table lock"


def test_torn_log_line_is_ignored(ds):
    a = ids_of(ds, "seoul")[0]
    curation.decide(ds, [a], "rejected")
    with open(ds.files.curation_log, "a") as fh:
        fh.write('{"action": "x", "id": ')  # a crash while appending
    assert len(curation.read_log(ds)) == 1
    assert len(curation.read_log(ds, tail_bytes=40)) <= 1
    [u] = curation.undo(ds, last=1)
    assert status(ds)[a] == "unreviewed" and u.n == 1


def test_auto_reject_only_touches_unreviewed_and_is_reversible(ds):
    seoul = ids_of(ds, "seoul")
    street = {i: (0.05 if k < 4 else 0.9) for k, i in enumerate(seoul)}
    street.update({i: 0.01 for i in ids_of(ds, "london_on")})
    fake_scores(ds, street)
    curation.decide(ds, [seoul[0]], "accepted", who="ann")  # a human said yes
    action, hit = curation.auto_reject(ds, score="street", below=0.1, cls="seoul")
    assert set(action.ids) == set(seoul[1:4])  # the accepted one is left alone
    assert action.source == "auto" and "street < 0.1 in seoul" in action.note
    assert status(ds)[seoul[0]] == "accepted"
    _, dry = curation.auto_reject(ds, score="street", below=0.1, dry_run=True)
    assert len(dry) == 12  # all of london_on, nothing changed
    assert sum(v == "rejected" for v in status(ds).values()) == 3
    done = curation.undo(ds, all_auto=True)
    assert [a.undoes for a in done] == [action.id]
    assert sum(v == "rejected" for v in status(ds).values()) == 0
    with pytest.raises(curation.CurationError, match="reject-above"):
        curation.auto_reject(ds, score="outlier", below=0.5)
    with pytest.raises(curation.CurationError, match="exactly one"):
        curation.auto_reject(ds, score="street")


def test_auto_reject_without_scores_says_what_to_do(ds):
    with pytest.raises(Exception, match="streetlens data scores"):
        curation.auto_reject(ds, score="street", below=0.2)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_curate_reject_below_and_undo(ds):
    seoul, london = ids_of(ds, "seoul"), ids_of(ds, "london_on")
    fake_scores(ds, {**{i: 0.05 for i in seoul[:5]}, **{i: 0.8 for i in seoul[5:] + london}},
                outlier={london[0]: 0.9})
    res = run("data", "curate", "--dataset", ds.root, "--reject-below", 0.2, "--dry-run")
    assert res.exit_code == 0 and "would reject 5" in res.output
    assert "rejected" not in set(status(ds).values())
    res = run("data", "curate", "--dataset", ds.root, "--reject-below", 0.2, "--class", "seoul")
    assert res.exit_code == 0 and "rejected 5 image(s)" in res.output, res.output
    res = run("data", "curate", "--dataset", ds.root, "--reject-above", 0.5, "--score", "outlier")
    assert res.exit_code == 0 and "rejected 1 image(s)" in res.output
    assert sum(v == "rejected" for v in status(ds).values()) == 6
    res = run("data", "curate", "--dataset", ds.root, "--log")
    assert res.exit_code == 0 and "street < 0.2 in seoul" in res.output
    res = run("data", "curate", "--dataset", ds.root, "--undo")
    assert res.exit_code == 0 and "1 image(s) restored" in res.output
    assert status(ds)[london[0]] == "unreviewed"
    curation.decide(ds, [seoul[0]], "accepted", who="ann")  # a manual decision after the pass
    res = run("data", "curate", "--dataset", ds.root, "--undo", "--all-auto")
    assert res.exit_code == 0 and "4 image(s) restored, 1 left alone" in res.output, res.output
    st = status(ds)
    assert st[seoul[0]] == "accepted" and "rejected" not in set(st.values())
    res = run("data", "curate", "--dataset", ds.root, "--undo", "--all-auto")
    assert "nothing to undo" in res.output
    res = run("data", "curate", "--dataset", ds.root, "--reject-below", 0.2, "--score", "outlier")
    assert res.exit_code == 1 and "reject-above" in res.output
    res = run("data", "curate", "--dataset", ds.root)
    assert res.exit_code == 2


def test_review_queue_orders_worst_first_and_keeps_groups_together():
    table = pd.DataFrame({
        "id": list("abcdef"), "path": [f"x/{k}.jpg" for k in "abcdef"], "class": "tokyo",
        "group": "East", "group_id": ["a", "b", "c", "c", "e", "f"],
        "curated": ["unreviewed", "accepted", "unreviewed", "rejected", None, "unreviewed"],
    })
    scores = pd.DataFrame({"id": list("abcde"), "street": [0.9, 0.1, 0.8, 0.05, 0.5],
                           "outlier": [0.1, 0.6, 0.2, 0.3, 0.9], "dispute": np.nan})
    q = review.review_queue(table, scores, "tokyo", order="street", keep_groups=False)
    assert list(q["id"]) == ["f", "d", "b", "e", "c", "a"]  # unscored first, then lowest street
    q = review.review_queue(table, scores, "tokyo", order="street")
    assert list(q["id"]) == ["f", "d", "c", "b", "e", "a"]  # c follows its group mate d
    assert list(q["group_size"]) == [1, 2, 2, 1, 1, 1]
    assert list(q["table_row"]) == [5, 3, 2, 1, 4, 0]  # each image's position in the table
    mixed = pd.concat([table.assign(**{"class": "paris"}).head(2), table]).reset_index(drop=True)
    q = review.review_queue(mixed, scores, "tokyo", order="street")
    assert (mixed["id"].to_numpy()[q["table_row"]] == q["id"].to_numpy()).all()  # others' rows counted
    q = review.review_queue(table, scores, "tokyo", order="outlier", keep_groups=False)
    assert list(q["id"])[:3] == ["f", "e", "b"]
    q = review.review_queue(table, scores, "tokyo", show="unreviewed")
    assert set(q["id"]) == {"a", "c", "e", "f"}
    q = review.review_queue(table, None, "tokyo", order="file")
    assert list(q["id"]) == list("abcdef")
    counts = review.class_counts(table)
    assert counts.loc["tokyo"].to_dict() == {"images": 6, "unreviewed": 4, "accepted": 1, "rejected": 1}
