"""Curation decisions: accept, reject or relabel images, safely, traceably, reversibly.

Every decision goes straight into the dataset table (``curated``: unreviewed /
accepted / rejected; a relabel changes ``class`` and ``group``), so nothing is lost on a
refresh or a crash. Writers never overwrite each other: each change takes the dataset's
table lock (:meth:`Dataset.locked`, an exclusive ``fcntl.flock`` on a lock file beside the
table, also taken by import, collect and split), re-reads the table, changes
only the rows it decides, and writes it atomically (temp file + rename). Two browser tabs,
a tab and the CLI, a tab and a running import, or two threads can therefore change the
table at the same time and every change survives.

Every change is also appended to the dataset's curation log (one JSON line per image: action id,
time, who, source, the previous and the new values, a note) *before* the table is
written, which is what makes undo possible: ``undo`` restores the previous values of an
action's rows — only where they still hold what that action set, so undoing never
clobbers a later decision — and logs itself as an action of kind ``undo``.

The review order of a class (worst first) is :mod:`analysis.data.review`.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.dataset import Dataset, DatasetError

STATUSES = ("unreviewed", "accepted", "rejected")
FIELDS = ("curated", "class", "group")
SOURCES = ("page", "cli", "auto")


class CurationError(DatasetError):
    """A curation request that cannot be done; the message says why."""


def default_who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_action_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


# ------------------------------------------------------------------------------ the log
def log_path(ds: Dataset) -> Path:
    return ds.files.curation_log


def _append_log(ds: Dataset, entries: list[dict]) -> None:
    if not entries:
        return
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
    with open(log_path(ds), "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def read_log(ds: Dataset, tail_bytes: int | None = None) -> list[dict]:
    """Log entries, oldest first; ``tail_bytes`` reads only the end of the file (the
    page's recent-actions list). A torn last line (crash while appending) is ignored."""
    path = log_path(ds)
    if not path.is_file():
        return []
    with open(path, "rb") as fh:
        if tail_bytes is not None:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - tail_bytes))
            data = fh.read()
            if size > tail_bytes:  # drop the partial first line
                data = data.split(b"\n", 1)[-1]
        else:
            data = fh.read()
    out = []
    for line in data.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


@dataclass
class Action:
    """One user action: a decision on one or many images, or an undo."""

    id: str
    kind: str  # decide / relabel / undo
    who: str
    source: str
    time: str
    note: str = ""
    undoes: str | None = None
    entries: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # ids left alone (conflict or no-op)

    @property
    def n(self) -> int:
        return len(self.entries)

    @property
    def ids(self) -> list[str]:
        return [e["id"] for e in self.entries]

    def describe(self) -> str:
        return describe_entries(self.kind, self.entries, self.note)


def describe_entries(kind: str, entries: list[dict], note: str = "") -> str:
    if not entries:
        return "nothing"
    counts: dict[str, int] = {}
    for e in entries:
        new = e.get("new", {})
        if "class" in new:
            what = f"→ {new['class']}"
        else:
            what = new.get("curated", "?")
        counts[what] = counts.get(what, 0) + 1
    text = ", ".join(f"{k} {v}" for k, v in counts.items())
    if len(entries) == 1:
        text += f" ({entries[0]['id'][:8]})"
    if kind == "undo":
        text = f"undo ({text})"
    return f"{text}" + (f" — {note}" if note else "")


def actions(ds: Dataset, tail_bytes: int | None = None) -> list[Action]:
    """Log entries grouped into actions, oldest first; ``undone_by`` filled in."""
    by_id: dict[str, Action] = {}
    for e in read_log(ds, tail_bytes):
        a = by_id.get(e["action"])
        if a is None:
            a = by_id[e["action"]] = Action(e["action"], e.get("kind", "decide"), e.get("who", ""),
                                           e.get("source", ""), e.get("time", ""), e.get("note", ""),
                                           e.get("undoes"))
        a.entries.append(e)
    return list(by_id.values())


def undone_actions(all_actions: Iterable[Action]) -> dict[str, str]:
    """action id → the undo action that undid it (an undone undo re-enables its target)."""
    undone: dict[str, str] = {}
    for a in all_actions:  # oldest first: a later undo of the undo re-enables the target
        if a.kind == "undo" and a.undoes:
            undone[a.undoes] = a.id
            target_undo = a.undoes
            # undoing an undo ("redo") makes the original action live again
            for k, v in list(undone.items()):
                if v == target_undo:
                    del undone[k]
    return undone


# ------------------------------------------------------------------------------ decisions
def _group_of(table: pd.DataFrame, cls: str) -> str:
    rows = table.loc[table["class"] == cls, "group"].dropna()
    if rows.empty:
        known = ", ".join(sorted(table["class"].dropna().unique()))
        raise CurationError(f"unknown class {cls!r}: relabel to one of the dataset's classes ({known})")
    return str(rows.iat[0])


def _value(v) -> str | None:
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _apply(ds: Dataset, entries_for, *, kind: str, who: str | None, source: str, note: str,
           undoes: str | None = None) -> Action:
    """Lock, re-read, compute entries with ``entries_for(table)`` → (entries, skipped),
    log them, apply only those rows, write atomically."""
    action = Action(new_action_id(), kind, who or default_who(), source, _now(), note, undoes)
    with ds.locked():
        table = ds.read()
        entries, skipped = entries_for(table)
        action.skipped = skipped
        if not entries:
            return action
        for e in entries:
            e.update(action=action.id, kind=kind, who=action.who, source=source, time=action.time,
                     note=note, undoes=undoes)
        _append_log(ds, entries)  # log first: a decision in the table is always undoable
        pos = pd.Series(np.arange(len(table)), index=table["id"].astype(str))
        for e in entries:
            i = int(pos[e["id"]])
            for col, val in e["new"].items():
                table.at[i, col] = val
        ds.write(table)
        action.entries = entries
    return action


def decide(ds: Dataset, ids: Sequence[str], status: str | None = None, *, cls: str | None = None,
           who: str | None = None, source: str = "cli", note: str = "",
           only_if: Sequence[str] | None = None) -> Action:
    """Set ``curated`` to ``status`` and/or move images to class ``cls`` (its group
    follows). Rows already in that state are skipped; ``only_if`` limits the change to
    rows whose current ``curated`` is one of those (so a bulk action made from a stale
    view never overturns a decision another tab made meanwhile)."""
    if status is None and cls is None:
        raise CurationError("nothing to decide: give a status and/or a class")
    if status is not None and status not in STATUSES:
        raise CurationError(f"unknown decision {status!r}; choose one of {', '.join(STATUSES)}")
    if source not in SOURCES:
        raise CurationError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    wanted = list(dict.fromkeys(str(i) for i in ids))

    def entries_for(table: pd.DataFrame):
        present = set(table["id"].astype(str))
        unknown = [i for i in wanted if i not in present]
        if unknown:
            raise CurationError(f"{len(unknown)} image id(s) not in {ds.table_path}: "
                                f"{', '.join(unknown[:5])}")
        new_vals: dict[str, str] = {}
        if status is not None:
            new_vals["curated"] = status
        if cls is not None:
            new_vals["class"] = cls
            new_vals["group"] = _group_of(table, cls)
        rows = table.set_index(table["id"].astype(str)).loc[wanted, list(FIELDS)]
        entries, skipped = [], []
        for rid, row in rows.iterrows():
            cur = {c: _value(row[c]) for c in FIELDS}
            if cur["curated"] is None:
                cur["curated"] = "unreviewed"
            if only_if is not None and cur["curated"] not in only_if:
                skipped.append(rid)
                continue
            changed = {c: v for c, v in new_vals.items() if cur[c] != v}
            if not changed:
                skipped.append(rid)
                continue
            entries.append({"id": rid, "prev": {c: cur[c] for c in changed}, "new": changed})
        return entries, skipped

    return _apply(ds, entries_for, kind="relabel" if cls is not None else "decide", who=who,
                  source=source, note=note)


def undo(ds: Dataset, action_ids: Sequence[str] | None = None, *, last: int | None = None,
         all_auto: bool = False, by_who: str | None = None, who: str | None = None,
         source: str = "cli") -> list[Action]:
    """Undo actions: the given ids, the ``last`` N live (not undone) decisions (of
    ``by_who`` only, when given), or every live automatic pass (``all_auto``).

    Newest first; a row is restored only where it still holds what the action set, so a
    later decision on the same image is kept (and that image reported as skipped)."""
    if not action_ids and not last and not all_auto:
        raise CurationError("nothing to undo: give action ids, a number of actions, or --all-auto")
    done: list[Action] = []
    with ds.locked():
        history = actions(ds)
        undone = undone_actions(history)
        live = [a for a in history if a.id not in undone]
        if action_ids:
            by_id = {a.id: a for a in history}
            missing = [a for a in action_ids if a not in by_id]
            if missing:
                raise CurationError(f"no action {', '.join(missing)} in {log_path(ds)}")
            already = [a for a in action_ids if a in undone]
            if already:
                raise CurationError(f"action {', '.join(already)} was already undone")
            targets = [by_id[a] for a in action_ids]
        else:
            candidates = [a for a in live if a.kind != "undo"]
            if all_auto:
                candidates = [a for a in candidates if a.source == "auto"]
            if by_who is not None:
                candidates = [a for a in candidates if a.who == by_who]
            targets = candidates[-last:] if last else candidates
        if not targets:
            return []
        table = ds.read()
        pos = pd.Series(np.arange(len(table)), index=table["id"].astype(str))
        stamp = _now()
        all_entries = []
        order = {a.id: i for i, a in enumerate(history)}
        for target in sorted(targets, key=lambda a: order[a.id], reverse=True):
            action = Action(new_action_id(), "undo", who or default_who(), source, stamp,
                            f"undo {target.id}", target.id)
            for e in reversed(target.entries):
                rid = e["id"]
                if rid not in pos.index:
                    action.skipped.append(rid)
                    continue
                i = int(pos[rid])
                cur = {c: _value(table.at[i, c]) for c in e["new"]}
                if cur.get("curated", "x") is None:
                    cur["curated"] = "unreviewed"
                if cur != e["new"]:  # changed again since: leave the newer decision
                    action.skipped.append(rid)
                    continue
                for col, val in e["prev"].items():
                    table.at[i, col] = val
                action.entries.append({"id": rid, "prev": dict(e["new"]), "new": dict(e["prev"]),
                                       "action": action.id, "kind": "undo", "who": action.who,
                                       "source": source, "time": stamp, "note": action.note,
                                       "undoes": target.id})
            if action.entries:
                all_entries += action.entries
            done.append(action)
        _append_log(ds, all_entries)
        if all_entries:
            ds.write(table)
    return done


def auto_reject(ds: Dataset, *, score: str = "street", below: float | None = None,
                above: float | None = None, cls: str | None = None, who: str | None = None,
                source: str = "auto", dry_run: bool = False) -> tuple[Action | None, pd.DataFrame]:
    """Reject the *unreviewed* images whose ``score`` is below/above a threshold (a first
    automatic pass; human decisions are never overturned). Returns the action (None on a
    dry run) and the rows it concerns, worst first."""
    from analysis.data.scores import SCORE_COLUMNS, require_scores

    if score not in ("street", "outlier", "dispute"):
        raise CurationError(f"unknown score {score!r}; choose street, outlier or dispute")
    if (below is None) == (above is None):
        raise CurationError("give exactly one threshold: --reject-below or --reject-above")
    if score == "street" and above is not None:
        raise CurationError("a high street score means a street: use --reject-below with --score street")
    if score in ("outlier", "dispute") and below is not None:
        raise CurationError(f"a high {score} score is the suspicious one: use --reject-above "
                            f"with --score {score}")
    assert score in SCORE_COLUMNS
    scores = require_scores(ds)
    if score == "dispute" and scores["dispute"].isna().all():
        raise CurationError("no model disputes in the scores: run `streetlens data scores "
                            f"--dataset {ds.root} --run RUN` first")
    table = ds.read()
    if cls is not None and cls not in set(table["class"]):
        raise CurationError(f"class {cls!r} is not in dataset {ds.name}")
    df = table[["id", "class", "curated", "path"]].merge(scores, on="id", how="inner")
    df = df[df["curated"].fillna("unreviewed") == "unreviewed"]
    if cls is not None:
        df = df[df["class"] == cls]
    hit = df[df[score] < below] if below is not None else df[df[score] > above]
    hit = hit.sort_values(score, ascending=below is not None).reset_index(drop=True)
    if dry_run or hit.empty:
        return None, hit
    op = f"< {below:g}" if below is not None else f"> {above:g}"
    action = decide(ds, hit["id"].tolist(), "rejected", who=who, source=source,
                    note=f"{score} {op}" + (f" in {cls}" if cls else ""), only_if=("unreviewed",))
    return action, hit
