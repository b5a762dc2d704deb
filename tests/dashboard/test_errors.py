"""Errors page against the analysed tiny run: the images shown are exactly those of the
chosen confusion cell, the mistakes list is the wrong images by confidence, and both
follow the split and the URL."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.explain.concepts.contrast import signed
from analysis.precompute import concept_views, missing_hint
from analysis.store import RunCache

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
    assert [i for i, _, _ in shown] == list(expected["id"])[:6]  # six unless asked for more
    assert {(t, p) for _, t, p in shown} == {(true, pred)}
    at.select_slider(key="errors_show").set_value(24).run()
    assert [i for i, _, _ in sections(at)["Images in a cell"]] == list(expected["id"])[:24]
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
    assert at.metric[0].value == f"{(samples['split'] == 'test').sum():,}"


def test_picking_a_cell_updates_the_url(dashboard_env, samples, run_page, sections, no_problems):
    at = run_page(split="all")
    no_problems(at)
    classes = sorted(samples["class"].unique())
    at.selectbox(key="w_true").set_value(classes[-1]).run()
    at.selectbox(key="w_pred").set_value(classes[0]).run()
    assert (at.query_params["true"], at.query_params["pred"]) == (classes[-1], classes[0])
    shown = sections(at)["Images in a cell"]
    n = int(((samples["class"] == classes[-1]) & (samples["pred_class"] == classes[0])).sum())
    assert len(shown) == min(n, 12)


def test_most_confident_mistakes(dashboard_env, samples, run_page, sections, no_problems):
    at = run_page(split="all")
    no_problems(at)
    wrong = samples[~samples["correct"]].sort_values("p_pred", ascending=False, kind="stable")
    shown = sections(at)["Most confident mistakes"]
    assert [i for i, _, _ in shown] == list(wrong["id"])[:6]  # six unless asked for more
    at.select_slider(key="errors_n_mistakes").set_value(12).run()
    assert [i for i, _, _ in sections(at)["Most confident mistakes"]] == list(wrong["id"])[:12]
    if wrong.empty:
        assert any("No city mistakes" in s.value for s in at.success)
    # the group head's mistakes are the group-wrong images, most confident first
    group = [v for k, v in sections(at).items() if k.startswith("Group head")][0]
    gwrong = samples[~samples["correct_group"]].sort_values("p_group", ascending=False, kind="stable").head(4)
    assert [i for i, _, _ in group] == list(gwrong["id"])


def test_every_figure_has_export_buttons(dashboard_env, samples, run_page):
    """Confusion matrix and error rates of the city head, confusion matrix and per-city
    errors of the group head, and (when there is a mistake) the concept bars of the picked
    one: each one PNG, SVG and PDF button (Chromium is there: `make test` installs it), and
    nothing else."""
    at = run_page(split="all")
    keys = sorted(b.proto.id.split("-", 2)[-1] for b in at.get("download_button"))
    figures = ["confusion-city-all", "error-rate-city-all", "confusion-group-all", "group-error-rate-city-all"]
    true, pred = pick_cell(samples)
    if true != pred:  # the default cell is the most confused one; its most confident image is picked
        first = samples[(samples["class"] == true) & (samples["pred_class"] == pred)] \
            .sort_values("p_pred", ascending=False, kind="stable").iloc[0]
        figures.append(f"why-{pred}-over-{true}-{first['id']}")
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


# ------------------------------------------------------------------ why this city
@pytest.fixture
def own_cache(analysed_run, tmp_path, monkeypatch):
    """A copy of the analysed cache to write into, with at least one mistake: the tiny run
    may classify every image right, so the most confident right test image of the first
    class is then said to be predicted as the second (its removal effects are real)."""
    run, cache, roots = analysed_run
    root = tmp_path / "cache"
    shutil.copytree(cache.root, root / run.name)
    for k, v in {**roots, "STREETLENS_CACHE": str(root)}.items():
        monkeypatch.setenv(k, v)
    c = RunCache(root / run.name)
    s = c.samples()
    if s["correct"].all():
        classes = list(run.labels.classes)
        i = s[s["class"] == classes[0]].index[0]
        s.loc[i, ["pred_class", "correct"]] = [classes[1], False]
        c.write_table("samples", s)
    return run, c


def why_chart(at: AppTest) -> dict | None:
    specs = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
    return next((f for f in specs if "towards" in f["layout"]["xaxis"]["title"]["text"]), None)


def section_markdown(at: AppTest, walk, title: str) -> list[str]:
    out, inside = [], False
    for el in walk(at.main):
        if el.type == "subheader":
            inside = el.value == title
        elif inside and el.type == "markdown":
            out.append(el.value)
    return out


def first_mistake(run, c) -> pd.Series:
    s = c.samples()
    wrong = s[~s["correct"].astype(bool)].sort_values("p_pred", ascending=False, kind="stable")
    r = wrong.iloc[0]
    return r


def test_why_line_and_bars_for_the_picked_mistake(own_cache, run_page, walk, no_problems):
    run, c = own_cache
    r = first_mistake(run, c)
    at = run_page(split="all", true=r["class"], pred=r["pred_class"])
    no_problems(at)
    want = concept_views.error_explanations(c, list(run.labels.classes), c.samples(), top=None)
    first = want[want["true"].eq(r["class"]) & want["predicted"].eq(r["pred_class"])] \
        .sort_values("p_pred", ascending=False, kind="stable")["id"].iat[0]
    mine = want[want["id"] == first]
    assert at.selectbox(key="w_why").value == first
    lines = [m for m in section_markdown(at, walk, "Why this city and not that one") if " over " in m]
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith(f'<b><a href="portrait?run={run.name}&amp;city={r["pred_class"]}" target="_self">')
    for k in mine.head(3).to_dict("records"):  # strongest three, in order, each linked to its portrait card
        city = r["pred_class"] if k["contribution"] >= 0 else r["class"]
        assert f'city={city}&amp;concept={k["concept"]}" target="_self">\'' in line
        assert f"<b>{signed(k['contribution'])}</b>" in line
    positions = [line.index(f"concept={k}\"") for k in mine["concept"].head(3)]
    assert positions == sorted(positions)
    # the bar chart: the strongest eight, with the same numbers, red towards the predicted city
    chart = why_chart(at)
    assert chart is not None
    assert chart["data"][0]["x"] == pytest.approx(mine["contribution"].head(8).tolist(), abs=1e-6)
    assert r["pred_class"] in chart["layout"]["xaxis"]["title"]["text"]
    # the same line under the image in the cell's list
    cell = [m for m in section_markdown(at, walk, "Images in a cell") if " over " in m]
    assert line in cell


def test_confused_pairs_with_their_separating_concepts(own_cache, run_page, walk, no_problems):
    run, c = own_cache
    r = first_mistake(run, c)
    at = run_page(split="all", true=r["class"], pred=r["pred_class"])
    no_problems(at)
    pairs = concept_views.pair_view(c, list(run.labels.classes), c.samples())
    lines = section_markdown(at, walk, "Confused pairs")
    assert len(lines) == min(len(pairs.groupby(["true", "predicted"])), 8)
    top = pairs.iloc[0]
    n = int(top["images"])
    assert lines[0].startswith(f'<b><a href="portrait?run={run.name}&amp;city={top["true"]}" target="_self">'
                               f'{top["true"]}</a></b> taken for <b>')
    assert f'>{n} image{"s" if n != 1 else ""}</a>; separating concepts: ' in lines[0]
    first = pairs[(pairs["true"] == top["true"]) & (pairs["predicted"] == top["predicted"])]
    assert f"<b>{signed(first['contribution'].iat[0])}</b>" in lines[0]
    assert f"errors?run={run.name}&amp;split=all&amp;true={top['true']}&amp;pred={top['predicted']}" in lines[0]


def test_a_concept_name_with_html_is_shown_as_typed(own_cache, run_page, walk, no_problems):
    run, c = own_cache
    r = first_mistake(run, c)
    want = concept_views.error_explanations(c, list(run.labels.classes), c.samples(), top=1)
    k = int(want[want["id"] == r["id"]]["concept"].iat[0])
    concept_views.name_concept(c, k, "<b>x</b>")
    at = run_page(split="all", true=r["class"], pred=r["pred_class"])
    no_problems(at)
    line = [m for m in section_markdown(at, walk, "Why this city and not that one") if " over " in m][0]
    assert "'&lt;b&gt;x&lt;/b&gt;'" in line and "<b>x</b>" not in line
    assert "(auto)</span>" not in line.split("&lt;/b&gt;'</a>")[1][:12]  # a user's name is not automatic
    assert why_chart(at)["layout"]["yaxis"]["ticktext"][0] == "&lt;b&gt;x&lt;/b&gt;"


def test_without_removal_effects_or_with_a_broken_names_file(own_cache, run_page, no_problems):
    run, c = own_cache
    c.names().path.write_text("{not json", encoding="utf-8")
    at = run_page(split="all")
    no_problems(at)
    assert any("is not valid JSON" in w.value and "automatic names shown meanwhile" in w.value for w in at.warning)
    assert why_chart(at) is not None
    c.remove("concept_removal_logits")
    at = run_page(split="all")
    no_problems(at)
    infos = [i.value for i in at.info if i.value.startswith("Not computed yet")]
    assert infos == [f"Not computed yet: {missing_hint(run.name, 'concept_removal_logits')}."]
    assert "--stages concept_effects" in infos[0]
    assert why_chart(at) is None
