"""Concept names: hostile text refused in one line, history kept, concurrent writers both
kept, a hand-broken file never overwritten, names carried over to refitted concepts and
kept when the cache is reset."""

from __future__ import annotations

import json
import re
import threading

import numpy as np
import pytest

from analysis.store import MAX_NAME_LENGTH, NameBook, NamesError, RunCache, check_name


@pytest.fixture
def book(tmp_path):
    return RunCache(tmp_path / "run").names()


@pytest.mark.parametrize("text, message", [
    ("", "cannot be empty"),
    ("   ", "cannot be empty"),
    ("x" * 10_000, f"at most {MAX_NAME_LENGTH} characters; this one has 10000"),
    ("wide\x07road", "control characters (found U+0007)"),
    ("two\nlines", "control characters (found U+000A)"),
    ("zero\u200bwidth", "control characters (found U+200B)"),
    (None, "is text, not NoneType"),
])
def test_hostile_names_are_refused_in_one_line(text, message):
    with pytest.raises(NamesError, match=re.escape(message)) as err:
        check_name(text)
    assert "\n" not in str(err.value)


def test_html_is_kept_as_text_for_the_pages_to_escape(book):
    assert book.set(0, "  <b>wide</b> & road  ") == "<b>wide</b> & road"
    assert book.names()[0].name == "<b>wide</b> & road"


def test_names_history_and_clearing(book):
    book.set(2, "utility poles", direction=np.array([0.5, 0.5]))
    book.set(2, "overhead wires")
    book.clear(2)
    assert book.names() == {}
    h = book.history()
    assert [(e["event"], e["name"], e["previous"]) for e in h] == [
        ("named", "utility poles", None), ("named", "overhead wires", "utility poles"),
        ("cleared", None, "overhead wires")]


def test_a_refused_name_changes_nothing(book):
    book.set(1, "vending machine")
    with pytest.raises(NamesError):
        book.set(1, "bad\x00name")
    assert book.names()[1].name == "vending machine" and len(book.history()) == 1


def test_two_writers_at_once_both_keep_their_names(book):
    errors = []

    def name_many(start):
        try:
            for k in range(start, start + 20, 2):
                book.set(k, f"name {k}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=name_many, args=(s,)) for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(book.names()) == list(range(20)) and len(book.history()) == 20


def test_a_hand_broken_file_is_reported_and_never_overwritten(book):
    book.set(0, "red lanterns")
    text = book.path.read_text()
    book.path.write_text(text[:-5])  # an editor cut the end off
    with pytest.raises(NamesError, match="is not valid JSON .*nothing is saved until then"):
        book.names()
    with pytest.raises(NamesError, match="not valid JSON"):
        book.set(1, "golden roof")
    assert book.path.read_text() == text[:-5]
    book.path.write_text(json.dumps({"names": []}))
    with pytest.raises(NamesError, match="not a streetlens names file"):
        book.names()


def test_names_follow_their_concepts_after_a_refit(book):
    book.set(0, "onion domes", direction=[1, 0, 0])
    book.set(1, "glass towers", direction=[0, 1, 0])
    new = np.array([[0, 0.9, 0.1], [1, 0, 0], [0, 0, 1]], float)
    book.carry_over({0: 1, 1: None}, new)  # 0 matched new concept 1; 1 found no match
    names = book.names()
    assert {k: v.name for k, v in names.items()} == {1: "onion domes"}
    assert names[1].direction == (1.0, 0.0, 0.0)
    events = [(e["event"], e["name"]) for e in book.history()[2:]]
    assert ("unmatched", "glass towers") in events and ("rematched", "onion domes") in events


def test_names_survive_a_cache_reset(tmp_path):
    cache = RunCache(tmp_path / "run")
    cache.manifest = {"run": "x"}
    cache.save_manifest()
    cache.names().set(3, "shophouses")
    cache.reset()
    assert not cache.exists()
    assert cache.names().names()[3].name == "shophouses"
    assert isinstance(cache.names(), NameBook)
