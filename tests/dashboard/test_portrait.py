"""Portrait page against the analysed tiny run: sentences and cards from the concept
stages, a linked concept opened first, user names shown escaped with their marks, and a
hand-broken names file said in one line without losing the portrait or the file."""

from __future__ import annotations

import re
import shutil

import pytest

from analysis.precompute import concept_views
from analysis.store import RunCache

PAGE = "portrait"


@pytest.fixture(scope="module")
def own_cache(analysed_run, tmp_path_factory):
    """A copy of the analysed cache (names get written) and the env pointing at it."""
    run, cache, roots = analysed_run
    root = tmp_path_factory.mktemp("portrait_cache")
    shutil.copytree(cache.root, root / cache.root.name)
    return run, RunCache(root / cache.root.name), {**roots, "STREETLENS_CACHE": str(root)}


@pytest.fixture
def env(own_cache, point_dashboard):
    run, cache, roots = own_cache
    point_dashboard(roots)
    return run, cache


def _texts(walk, at):
    return [str(getattr(el, "value", "")) for el in walk(at.main)]


def test_portrait_leads_with_sentences_and_cards_from_the_stages(env, run_page, walk, no_problems):
    run, cache = env
    city = run.labels.classes[0]
    at = run_page(run=run.name, city=city)
    no_problems(at)
    p = concept_views.portrait(cache, city)
    assert at.title[0].value == f"What makes a street look like {city}?"
    texts = _texts(walk, at)
    for s in p.sentences:  # the sentences built from the numbers, as they are
        assert any(s.replace("“", "").replace("”", "")[:40] in t.replace("\\", "").replace("“", "").replace("”", "")
                   for t in texts), s
    heads = [t for t in texts if t.startswith("#### ")]
    assert len(heads) == len(p.cards) <= 6  # fewer than 3 only when fewer stable concepts raise the city
    for i, c in enumerate(p.cards, 1):
        assert heads[i - 1].startswith(f"#### {i}. ")
        assert f"came back in {c.came_back} of {c.refits}" in " ".join(texts)


def test_a_linked_concept_opens_first_even_when_it_does_not_lead(env, run_page, walk, no_problems):
    run, cache = env
    city = run.labels.classes[0]
    lead = {c.concept for c in concept_views.portrait(cache, city).cards}
    other = next(k for k in range(concept_views.n_concepts(cache)) if k not in lead)
    at = run_page(run=run.name, city=city, concept=other)
    no_problems(at)
    heads = [t for t in _texts(walk, at) if t.startswith("#### ")]
    assert f"opened from a link] concept {other}" in heads[0] and len(heads) == len(lead) + 1


def test_user_names_show_escaped_and_a_broken_names_file_is_said_in_one_line(env, run_page, walk):
    run, cache = env
    city = run.labels.classes[0]
    concept_views.name_concept(cache, 0, "<b>x</b> **y**")
    at = run_page(run=run.name, city=city, concept=0)  # opened from a link: shown, leading or not
    head = next(t for t in _texts(walk, at) if t.startswith("#### ") and "concept 0" in t)
    assert re.match(r"#### (\d+\\?\. )?&lt;b&gt;x&lt;/b&gt; \\\*\\\*y\\\*\\\*\n", head), head
    assert "automatic name" not in head

    path = cache.names().path
    path.write_text("{ not json", encoding="utf-8")
    at = run_page(run=run.name, city=city, concept=0)
    assert not at.exception
    assert len(at.error) == 1 and "not valid JSON" in at.error[0].value and "\n" not in at.error[0].value
    assert any(t.startswith("#### ") for t in _texts(walk, at))  # the portrait goes on
    assert path.read_text(encoding="utf-8") == "{ not json"  # nothing overwritten
    path.unlink()
