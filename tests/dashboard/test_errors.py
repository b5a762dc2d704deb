"""Errors page against the analysed tiny run: the images shown are exactly those of the
chosen confusion cell, the mistakes list is the wrong images by confidence, and both
follow the split and the URL."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

PAGE = "errors"  # dashboard/app_pages/errors.py, for the run_page fixture
ID = re.compile(r"^`([0-9a-f]+)` · \*\*(\w+)\*\* → \*\*(\w+)\*\*")


@pytest.fixture(scope="module")
def sections(walk):
    """``sections(at)``: image ids (id, true, pred) listed under each subheader, in page order."""

    def read(at: AppTest) -> dict[str, list[tuple[str, str, str]]]:
        out: dict[str, list] = {}
        current = None
        for el in walk(at.main):
            if el.type == "subheader":
                current = el.value
                out[current] = []
            elif el.type == "markdown" and current is not None and (m := ID.match(el.value)):
                out[current].append(m.groups())
        return out

    return read


@pytest.fixture(scope="module")
def samples(analysed_run) -> pd.DataFrame:
    return analysed_run[1].table("samples")


def pick_cell(s: pd.DataFrame) -> tuple[str, str]:
    wrong = s[~s["correct"]]
    if len(wrong):
        (t, p), _ = next(iter(wrong.groupby(["class", "pred_class"]).size().sort_values(ascending=False).items()))
        return t, p
    return s["class"].iat[0], s["class"].iat[0]


def test_cell_lists_exactly_its_images(dashboard_env, samples, run_page, sections, walk, no_problems):
    true, pred = pick_cell(samples)
    at = run_page(split="all", true=true, pred=pred)
    no_problems(at)
    shown = sections(at)["Images in a cell"]
    expected = samples[(samples["class"] == true) & (samples["pred_class"] == pred)]
    expected = expected.sort_values("p_pred", ascending=(true == pred), kind="stable")
    assert [i for i, _, _ in shown] == list(expected["id"])[:24]
    assert {(t, p) for _, t, p in shown} == {(true, pred)}
    # the pickers show the cell, and the link opens the Sample page on that image
    assert at.selectbox(key="w_true").value == true and at.selectbox(key="w_pred").value == pred
    links = [el.value for el in walk(at.main) if el.type == "markdown" and "open in Sample" in el.value]
    assert f"sample?run={dashboard_env[0].name}&id={expected['id'].iat[0]}" in links[0]
    # one picture (photo | true map | predicted map) per image listed, at least
    assert len(at.get("image")) >= len(shown)


def test_diagonal_cell_and_split_filter(dashboard_env, samples, run_page, sections, no_problems):
    cls = samples["class"].iat[0]
    at = run_page(split="test", true=cls, pred=cls)
    no_problems(at)
    expected = samples[(samples["split"] == "test") & (samples["class"] == cls) & (samples["pred_class"] == cls)]
    shown = sections(at)["Images in a cell"]
    assert sorted(i for i, _, _ in shown) == sorted(expected["id"])
    assert at.metric[0].value == str((samples["split"] == "test").sum())


def test_picking_a_cell_updates_the_url(dashboard_env, samples, run_page, sections, no_problems):
    at = run_page(split="all")
    no_problems(at)
    classes = sorted(samples["class"].unique())
    at.selectbox(key="w_true").set_value(classes[-1]).run()
    at.selectbox(key="w_pred").set_value(classes[0]).run()
    assert (at.query_params["true"], at.query_params["pred"]) == (classes[-1], classes[0])
    shown = sections(at)["Images in a cell"]
    n = int(((samples["class"] == classes[-1]) & (samples["pred_class"] == classes[0])).sum())
    assert len(shown) == min(n, 24)


def test_most_confident_mistakes(dashboard_env, samples, run_page, sections, no_problems):
    at = run_page(split="all")
    no_problems(at)
    wrong = samples[~samples["correct"]].sort_values("p_pred", ascending=False, kind="stable").head(10)
    shown = sections(at)["Most confident mistakes"]
    assert [i for i, _, _ in shown] == list(wrong["id"])
    if wrong.empty:
        assert any("No city mistakes" in s.value for s in at.success)
    # the group head's mistakes are the group-wrong images, most confident first
    group = [v for k, v in sections(at).items() if k.startswith("Group head")][0]
    gwrong = samples[~samples["correct_group"]].sort_values("p_group", ascending=False, kind="stable").head(6)
    assert [i for i, _, _ in group] == list(gwrong["id"])


def test_every_figure_has_export_buttons(dashboard_env, run_page):
    """Confusion matrix and error rates of the city head, confusion matrix and per-city
    errors of the group head: each one PNG, SVG and PDF button (Chromium is there: `make
    test` installs it), and nothing else."""
    at = run_page(split="all")
    keys = sorted(b.proto.id.split("-", 2)[-1] for b in at.get("download_button"))
    figures = ["confusion-city-all", "error-rate-city-all", "confusion-group-all", "group-error-rate-city-all"]
    assert keys == sorted(f"dl-{f}-{fmt}" for f in figures for fmt in ("png", "svg", "pdf"))


def test_without_a_browser_charts_offer_html_and_say_why(dashboard_env, monkeypatch, run_page, no_problems):
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    at = run_page(split="all")
    no_problems(at)
    labels = [b.label for b in at.get("download_button")]
    assert "Interactive HTML" in labels
    assert any("needs Chrome or Chromium" in c.value for c in at.caption)
    # pictures (the Grad-CAM strips are not charts) still export as files
    assert not any(lab.startswith("PNG") and "chart" in lab for lab in labels)
