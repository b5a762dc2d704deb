"""Compare page: with one run it says what to do; with two runs (here a copy of the
analysed run under another name, so the oracle is known: no difference, CKA 1) it shows
the verdict, the charts and the agreement cells, from the URL."""

from __future__ import annotations


import pytest

PAGE = "compare"


def test_one_run_says_how_to_get_a_second(dashboard_env, run_page, no_problems):
    at = run_page()
    no_problems(at)
    assert any("needs two trained and analysed runs" in i.value for i in at.info)


def test_two_runs_from_the_url(two_runs, run_page, no_problems):
    a, b = two_runs
    at = run_page(a=a, b=b, split="all")
    no_problems(at)
    text = " ".join(m.value for m in at.markdown)
    assert "a difference of +0.0%, McNemar p = 1.000: **not significant**" in text
    assert "pooled features on these images: **1.000**" in text
    assert [t.label.split(" (")[0] for t in at.tabs] == ["both right", "only A right", "only B right", "both wrong"]
    assert at.selectbox(key="w_a").value == a and at.selectbox(key="w_b").value == b


def test_a_run_name_that_does_not_exist_is_one_line(two_runs, run_page, no_problems):
    a, _ = two_runs
    at = run_page(a=a, b="nope")
    no_problems(at)
    assert any("There is no run 'nope'" in w.value for w in at.warning)


def test_per_layer_cka_on_request_and_concept_pairs_with_patches(two_runs, run_page, no_problems):
    a, b = two_runs
    at = run_page(a=a, b=b, split="all")
    assert not [c for c in at.get("plotly_chart") if "layer_cka" in str(c.proto.id)]
    at.button(key="layer_cka_go").click().run()
    no_problems(at)
    captions = " ".join(c.value for c in at.caption)
    assert "Same architecture: every stage has CKA ≥ 0.99" in captions  # a copy of the same model
    text = " ".join(m.value for m in at.markdown)
    assert "**Shared**" in text and "concept pairs are shared" in text
    # stored: the next visit shows it without a button
    at = run_page(a=a, b=b, split="all")
    assert "Same architecture" in " ".join(c.value for c in at.caption)


def test_compare_figures_go_into_the_talk_pack(two_runs, run_page, no_problems):
    """After a pair was opened, the talk pack on the Compare page offers its figures and
    exports them (PNG + PDF each)."""
    import io
    import zipfile

    a, b = two_runs
    at = run_page(a=a, b=b, split="all", run=a)
    at.button(key="layer_cka_go").click().run()  # a fragment: the sidebar updates on the next run
    at.run()
    options = [o for o in at.multiselect(key="talkpack-figures").options if o.startswith(f"Compare {a} vs {b}")]
    assert [o.split(": ", 1)[1] for o in options] == ["accuracy per city", "agreement", "where they look",
                                                      "per-layer CKA"]
    at.multiselect(key="talkpack-figures").set_value(options).run()
    at.button(key="talkpack-build").click().run()
    no_problems(at)
    data, problems, n = at.session_state[f"talkpack-zip-{a}"]
    assert problems == [] and n == 4
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert sum(n.endswith(".png") for n in names) == 4 and sum(n.endswith(".pdf") for n in names) == 5
