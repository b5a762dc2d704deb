"""Features page against the analysed tiny run: each city's card shows its top channels
from the top-channels table (with their feature visualisations), the closer look lists the
images where the chosen channel fires most, and every concept has its icon and link."""

from __future__ import annotations

import re

import numpy as np
import pytest

PAGE = "features"  # dashboard/app_pages/features.py, for the run_page fixture


@pytest.fixture(scope="module")
def tables(analysed_run):
    cache = analysed_run[1]
    fv = cache.table("featvis")
    rendered = {int(i) for k, i, f in zip(fv["kind"], fv["index"], fv["file"])
                if k == "channel" and (cache.root / f).is_file()}
    return cache.table("top_channels"), rendered, cache


def test_each_city_card_shows_its_top_channels(dashboard_env, tables, run_page, walk,
                                                no_problems):
    top, rendered, _ = tables
    run = dashboard_env[0]
    at = run_page()
    no_problems(at)
    order = list(walk(at.main))
    for cls in run.labels.classes:
        i = next(i for i, el in enumerate(order) if el.type == "markdown" and el.value == f"**{cls}**")
        pics = next(el for el in order[i + 1:] if el.type == "image")
        rows = top[(top["head"] == "city") & (top["target"] == cls)].sort_values("rank")
        with_icon = rows[rows["channel"].isin(rendered)].head(5)
        expected = with_icon if len(with_icon) else rows.head(3)
        assert pics.captions == [f"ch {int(c)} · {a:+.3f}" for c, a in zip(expected["channel"], expected["attribution"])]
    assert rendered, "the fixture renders channel feature visualisations"


def test_closer_look_lists_where_the_channel_fires_most(dashboard_env, tables, run_page, no_problems):
    top, _, cache = tables
    run = dashboard_env[0]
    cls = run.labels.classes[-1]
    rows = top[(top["head"] == "city") & (top["target"] == cls)].sort_values("rank")
    channel = int(rows["channel"].iat[1])
    at = run_page(target=f"city:{cls}", channel=channel)
    no_problems(at)
    assert at.selectbox(key="w_channel").value == channel
    assert any(m.value == f"**Channel {channel}**" for m in at.markdown)
    acts = cache.array("activations")[:, channel].astype(np.float32).reshape(len(cache.array("activations")), -1)
    order = np.lexsort((-acts.mean(1), -acts.max(1)))[:8]
    ids = cache.table("samples").set_index("row").loc[order, "id"].tolist()
    links = [re.search(r"id=([0-9a-f]+)\)", m.value).group(1) for m in at.markdown
             if "sample?run=" in m.value]
    assert links == ids
    # the attribution bars are this class's channels, in rank order
    import json

    bars = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert bars[0]["data"][0]["y"] == [f"channel {int(c)}" for c in rows["channel"]]


def test_every_concept_has_an_icon_and_an_atlas_link(dashboard_env, analysed_run, run_page):
    imp = analysed_run[1].table("concept_importance")
    run = dashboard_env[0]
    at = run_page()
    links = [m.value for m in at.markdown if "](atlas?" in m.value]
    assert len(links) == imp["concept"].nunique()
    for k in sorted(imp["concept"].unique()):
        assert any(f"atlas?run={run.name}&concept={k})" in v and v.startswith(f"**{k} · ") for v in links)
