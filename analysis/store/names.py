"""Concept names a user gave, kept with a run's cache: the current name of each concept,
its direction (so a re-analysis can find the concept again), and the edit history.

Why it looks like this:
- Every change is a read-modify-write under a file lock on a fresh read, so two browser
  tabs (or a tab and the CLI) naming different concepts both keep their names.
- A file that is not valid JSON any more (edited by hand) is never overwritten: reading
  it raises one line that says which file and what to do, and saving refuses likewise.
- A name is text shown in pages, figures and exports: it is checked here once (not empty,
  at most :data:`MAX_LENGTH` characters, no control characters); showing it escaped is
  the job of whoever shows it.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from analysis.store.files import write_json_atomic

MAX_LENGTH = 60
LOCK_TIMEOUT = 10.0


class NamesError(ValueError):
    """A name or a names file that cannot be used; the message says what to do."""


def check_name(text: str) -> str:
    """The name as it will be kept (outer spaces removed), or :class:`NamesError`."""
    if not isinstance(text, str):
        raise NamesError(f"a concept name is text, not {type(text).__name__}")
    name = text.strip()
    if not name:
        raise NamesError("a concept name cannot be empty: type a few words, or clear the name "
                         "to go back to the automatic one")
    bad = next((ch for ch in name if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise NamesError(f"a concept name cannot hold control characters (found U+{ord(bad):04X}); "
                         "use plain words")
    if len(name) > MAX_LENGTH:
        raise NamesError(f"a concept name has at most {MAX_LENGTH} characters; this one has {len(name)}")
    return name


@dataclass(frozen=True)
class GivenName:
    concept: int
    name: str
    time: str
    direction: tuple[float, ...] | None = None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class NameBook:
    """The names file of one cache (``path``: a JSON file the store chose)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT)

    # -- reading ------------------------------------------------------------------------
    def _load(self) -> dict:
        if not self.path.is_file():
            return {"version": 1, "names": {}, "history": []}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise NamesError(f"{self.path} is not valid JSON ({exc}); fix it or move it away — "
                             "nothing is saved until then") from None
        if not isinstance(data, dict) or not isinstance(data.get("names"), dict) \
                or not isinstance(data.get("history"), list):
            raise NamesError(f"{self.path} is not a streetlens names file (no 'names' and 'history'); "
                             "fix it or move it away — nothing is saved until then")
        return data

    def names(self) -> dict[int, GivenName]:
        """The names users gave, by concept."""
        out = {}
        for key, e in self._load()["names"].items():
            try:
                out[int(key)] = GivenName(int(key), check_name(e["name"]), str(e.get("time", "")),
                                          tuple(e["direction"]) if e.get("direction") else None)
            except (KeyError, TypeError, ValueError) as exc:
                raise NamesError(f"{self.path}: the entry of concept {key!r} is not valid ({exc}); "
                                 "fix it or move the file away") from None
        return out

    def history(self) -> list[dict]:
        return list(self._load()["history"])

    # -- writing ------------------------------------------------------------------------
    def _change(self, apply) -> None:
        try:
            with self.lock:
                data = self._load()
                apply(data)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(self.path, data)
        except Timeout:
            raise NamesError(f"{self.path} is being changed by another window for more than "
                             f"{LOCK_TIMEOUT:.0f} s; try again") from None

    def set(self, concept: int, name: str, direction=None, by: str = "user") -> str:
        """Name ``concept``; returns the name as kept."""
        name = check_name(name)
        concept = int(concept)

        def apply(data):
            old = data["names"].get(str(concept), {}).get("name")
            data["names"][str(concept)] = {
                "name": name, "time": _now(),
                "direction": None if direction is None else [round(float(v), 6) for v in np.ravel(direction)]}
            data["history"].append({"time": _now(), "concept": concept, "event": "named", "name": name,
                                    "previous": old, "by": by})
        self._change(apply)
        return name

    def clear(self, concept: int, by: str = "user") -> None:
        """Forget the name of ``concept`` (it goes by its automatic name again)."""
        concept = int(concept)

        def apply(data):
            old = data["names"].pop(str(concept), None)
            if old is not None:
                data["history"].append({"time": _now(), "concept": concept, "event": "cleared",
                                        "name": None, "previous": old.get("name"), "by": by})
        self._change(apply)

    def carry_over(self, moves: dict[int, int | None], directions: np.ndarray) -> None:
        """After the concepts were fitted again: move each name from its old concept to the
        matched new one (``moves`` old → new, None when nothing matched: the name is set
        aside in the history, not lost) and store the new directions."""
        def apply(data):
            kept = {}
            for key, entry in data["names"].items():
                new = moves.get(int(key))
                if new is None:
                    data["history"].append({"time": _now(), "concept": int(key), "event": "unmatched",
                                            "name": entry["name"], "previous": entry["name"], "by": "analysis"})
                    continue
                kept[str(new)] = {**entry, "direction": [round(float(v), 6) for v in directions[new]]}
                if new != int(key):
                    data["history"].append({"time": _now(), "concept": new, "event": "rematched",
                                            "name": entry["name"], "previous": f"concept {key}",
                                            "by": "analysis"})
            data["names"] = kept
        self._change(apply)
