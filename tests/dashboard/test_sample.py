"""Sample page against the analysed tiny run: what it SHOWS for the chosen image."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.store import RunCache
from dashboard.sample import picker

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "dashboard" / "app_pages" / "sample.py"


@pytest.fixture(autouse=True)
def fresh_caches():
    """Streamlit's caches live in the process: each test starts from clean ones."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def open_page(**params) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def samples(cache) -> pd.DataFrame:
    return cache.samples()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def gradcam_caption(at: AppTest) -> str:
    found = [c for c in captions(at) if c.startswith(("Grad-CAM of", "Why "))]
    assert found, captions(at)
    return found[0]


def charts(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def html_rows(markup: str) -> list[tuple[str, str]]:
    """(label, value text) of each row of an HTML bar table (charts.html_bars and
    charts.html_prediction_bars: label cell, bar cell, value cell)."""
    import html
    import re

    rows = re.findall(r"<tr>(.*?)</tr>", markup)
    out = []
    for row in rows:
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        cells = [c for c in cells if c != ""]  # the bar and icon cells hold no text
        out.append((cells[0], cells[-1]))
    return out


def html_table(at: AppTest, title: str) -> list[tuple[str, str]]:
    """The rows of the HTML bar table headed ``title``."""
    md = next(m.value for m in at.markdown if f">{title}</div>" in m.value and "<table" in m.value)
    return html_rows(md)


def values(x) -> list:
    """A plotly JSON array: a list, or plotly's typed array {"dtype", "bdata"} (base64)."""
    if isinstance(x, dict) and "bdata" in x:
        import base64

        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=np.dtype(x["dtype"])).tolist()
    return list(x)


def test_url_id_selects_that_image_and_shows_its_prediction(dashboard_env):
    run, cache = dashboard_env
    df = samples(cache)
    row = df.iloc[len(df) - 5]  # not the default first image
    at = open_page(id=row["id"])
    no_errors(at)
    assert at.title[0].value == "Sample"
    assert at.selectbox(key="w_id").value == row["id"]
    head, pred = at.markdown[0].value, at.markdown[1].value
    assert f"`{row['id']}`" in head and f"true **{row['class']}** ({row['group']})" in head
    assert f"{row['split']} split" in head
    assert f"Predicted **{row['pred_class']}** {row['p_pred']:.1%}" in pred
    assert f"group **{row['pred_group']}** {row['p_group']:.1%}" in pred
    assert gradcam_caption(at).startswith(f"Grad-CAM of {row['pred_class']} (city head")
    # the prediction bars are this image's probabilities, highest first, true class marked
    probs = np.asarray(cache.class_probs())[int(row["row"])]
    bars = html_table(at, "City")
    assert [p for _, p in bars] == [f"{p:.1%}" for p in sorted(probs.tolist(), reverse=True)]
    assert f"{row['class']}  ✓ true" in [name for name, _ in bars]
    assert bars[0][0].split("  ")[0] == row["pred_class"]
    assert at.query_params["id"] == [row["id"]] or at.query_params["id"] == row["id"]


def test_unknown_id_falls_back_with_a_note(dashboard_env):
    _, cache = dashboard_env
    at = open_page(id="no-such-image")
    no_errors(at)
    assert any("No image `no-such-image`" in w.value for w in at.warning)
    assert at.selectbox(key="w_id").value == samples(cache)["id"].iat[0]


def test_class_selectbox_changes_the_gradcam_caption(dashboard_env):
    run, cache = dashboard_env
    row = samples(cache).iloc[0]
    at = open_page(id=row["id"])
    before = gradcam_caption(at)
    other = next(c for c in run.labels.classes if c != row["pred_class"])
    at.selectbox(key="w_cls").set_value(other).run()
    no_errors(at)
    after = gradcam_caption(at)
    p = np.asarray(cache.class_probs())[int(row["row"]), run.labels.classes.index(other)]
    assert after != before and after == f"Grad-CAM of {other} (city head, p = {p:.1%})"
    assert at.query_params["cls"] in (other, [other])


def test_contrastive_view_defaults_to_the_runner_up_or_the_truth(dashboard_env):
    run, cache = dashboard_env
    df = samples(cache)
    probs = np.asarray(cache.class_probs())
    cases = [df[df["correct"]].iloc[0]] + ([df[~df["correct"]].iloc[0]] if (~df["correct"]).any() else [])
    for row in cases:
        order = np.argsort(-probs[int(row["row"])], kind="stable")
        pred = run.labels.classes[order[0]]
        other = run.labels.classes[order[1]] if row["correct"] else row["class"]
        at = open_page(id=row["id"], view="contrast")
        no_errors(at)
        assert gradcam_caption(at).startswith(f"Why {pred} rather than {other}: ReLU(")
    at.selectbox(key="w_vs").set_value(pred).run()  # A = B: nothing to show, said so
    assert any("two different classes" in w.value for w in at.warning)


def test_group_head(dashboard_env):
    run, cache = dashboard_env
    row = samples(cache).iloc[0]
    at = open_page(id=row["id"], head="group")
    no_errors(at)
    assert gradcam_caption(at).startswith(f"Grad-CAM of {row['pred_group']} (group head")


def test_filters_from_the_url_and_next_button(dashboard_env):
    _, cache = dashboard_env
    df = samples(cache)
    test_rows = df[df["split"] == "test"]
    at = open_page(split="test")
    no_errors(at)
    picker = at.selectbox(key="w_id")
    assert picker.label.startswith(f"Image ({len(test_rows)} of {len(df)} match")
    assert picker.value == test_rows["id"].iat[0]
    at.button(key="next").click().run()
    assert at.selectbox(key="w_id").value == test_rows["id"].iat[1]
    assert at.markdown[0].value.startswith(f"### `{test_rows['id'].iat[1]}`")
    at.button(key="prev").click().run()
    assert at.selectbox(key="w_id").value == test_rows["id"].iat[0]


def test_no_match_says_so(dashboard_env):
    at = open_page(conf="0.00-0.00")
    no_errors(at)
    assert any("No image matches" in i.value for i in at.info)


def test_apply_filters_is_pure_and_orders(dashboard_env):
    _, cache = dashboard_env
    df = samples(cache)
    apply = picker.apply_filters
    lo, hi = 0.4, 0.9
    got = apply(df, {"conf": (lo, hi), "order": "unsure"})
    assert ((got["p_pred"] >= lo - 1e-6) & (got["p_pred"] <= hi + 1e-6)).all()
    assert len(got) == int(((df["p_pred"] >= lo) & (df["p_pred"] <= hi)).sum())
    assert got["p_pred"].is_monotonic_increasing
    wrong = apply(df, {"ok": "wrong"})
    assert len(wrong) == int((~df["correct"]).sum())
    cls = df["class"].iat[0]
    assert set(apply(df, {"true": cls, "split": "train"})["class"]) <= {cls}
    assert picker.parse_range("0.9-0.2") == (0.2, 0.9)
    assert picker.parse_range("junk") == (0.0, 1.0)


def test_channels_view_shows_this_images_top_channels(dashboard_env):
    run, cache = dashboard_env
    row = samples(cache).iloc[3]
    at = open_page(id=row["id"])
    no_errors(at)
    attr = np.asarray(cache.channel_attr())[int(row["row"]),
                                                     run.labels.classes.index(row["pred_class"])]
    top = int(np.argmax(attr.astype(np.float32)))
    md = next(m.value for m in at.markdown if "channel " in m.value and "<table" in m.value)
    bars = html_rows(md)
    assert bars[0][0] == f"channel {top}"
    assert float(bars[0][1]) == pytest.approx(float(attr[top]), abs=1e-3)
    assert md.count('<img src="data:image/png;base64,') == len(bars)  # an icon (or placeholder) each


def test_neuron_groups_and_concepts_views(dashboard_env):
    _, cache = dashboard_env
    row = samples(cache).iloc[2]
    at = open_page(id=row["id"], blocks="groups")
    no_errors(at)
    assert any("factorised into 5 groups" in c for c in captions(at))
    shares = next(c for c in charts(at) if c["data"][0]["y"][0] == "group 1")
    assert sum(abs(v) for v in values(shares["data"][0]["x"])) == pytest.approx(1.0, abs=1e-4)
    at = open_page(id=row["id"], blocks="concepts")
    no_errors(at)
    assert any(c.startswith("Dataset-wide concepts") for c in captions(at))


def test_nearest_training_images(dashboard_env):
    _, cache = dashboard_env
    df = samples(cache)
    row = df.iloc[1]
    at = open_page(id=row["id"])
    nb = np.asarray(cache.neighbors())[int(row["row"])]
    by_row = df.set_index("row")
    pills = at.button_group(key="w_open_nb")
    # one pill per neighbour, in order of distance, named by its true class (and the
    # model's prediction where it is wrong)
    expected = []
    for i, j in enumerate(nb):
        r = by_row.loc[int(j)]
        expected.append(f"{i + 1}. {r['class']}" + ("" if r["correct"] else f" → {r['pred_class']}"))
    assert pills.options == expected
    second = by_row.loc[int(nb[1])]
    pills.set_value(f"nb_{int(nb[1])}").run()  # "Open" a neighbour
    assert at.selectbox(key="w_id").value == second["id"]
    assert at.button_group(key="w_open_nb").value is None  # ready for the next choice


def test_ondemand_map_computed_once_then_read_from_disk(dashboard_env):
    _, cache = dashboard_env
    row = samples(cache).iloc[4]
    shutil.rmtree(cache.path("ondemand"), ignore_errors=True)
    try:
        at = open_page(id=row["id"], method="guided_backprop")
        no_errors(at)
        assert any("has not been computed" in i.value for i in at.info)
        at.button(key="compute").click().run()
        no_errors(at)
        assert any(c.startswith("Computed now and saved") for c in captions(at))
        pred = int(np.argmax(np.asarray(cache.class_probs())[int(row["row"])]))
        files = list(cache.ondemand_path("guided_backprop", row["id"], "city", pred).parent.iterdir())
        assert files == [cache.ondemand_path("guided_backprop", row["id"], "city", pred)]
        again = open_page(id=row["id"], method="guided_backprop")
        assert any(c.startswith("Read from the cache") for c in captions(again))
        assert "compute" not in [b.key for b in again.button]
    finally:
        shutil.rmtree(cache.path("ondemand"), ignore_errors=True)


def test_stale_cache_warns_but_shows_the_image(dashboard_env, tmp_path, monkeypatch):
    run, cache = dashboard_env
    copy = tmp_path / "cache"
    shutil.copytree(cache.root, copy / run.name)
    stale = RunCache.for_run(run.name, copy)
    stale.manifest["model_fingerprint"] = "0" * 16
    stale.save_manifest()
    monkeypatch.setenv("STREETLENS_CACHE", str(copy))
    at = open_page()
    assert not at.exception
    assert any("Stale analysis" in w.value for w in at.warning)
    assert at.markdown[0].value.startswith("### `")


def test_not_analysed_run_explains_what_to_do(dashboard_env, tmp_path, monkeypatch):
    run, _ = dashboard_env
    monkeypatch.setenv("STREETLENS_CACHE", str(tmp_path / "empty"))
    at = open_page()
    assert not at.exception
    assert any(f"streetlens analyze {run.name}" in w.value for w in at.warning)
    assert not at.get("plotly_chart")


def test_side_by_side_with_a_second_run_from_the_url(two_runs):
    a, b = two_runs
    cache = RunCache.for_run(a)
    image_id = str(cache.samples()["id"].iloc[3])
    at = open_page(run=a, id=image_id, compare=b)
    assert not at.exception and not at.error
    assert f"Side by side with {b}" in [h.value for h in at.subheader]
    text = " ".join(m.value for m in at.markdown)
    assert text.count("** — predicts **") == 2 and f"**{b}** — predicts" in text
    assert any("correlation ρ = 1.00" in c.value for c in at.caption)  # the twin looks at the same places
    assert at.selectbox(key="w_compare").value == b
    at = open_page(run=a, id=image_id, compare="nope")
    assert not at.exception
    assert any("there is no other run 'nope'" in w.value for w in at.warning)
    assert f"Side by side with {b}" not in [h.value for h in at.subheader]
