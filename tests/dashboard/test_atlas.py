"""Atlas page against the analysed tiny run: the map holds every image, one concept card
per concept with the numbers of the concept importance table, the concept in the
URL is the one detailed, and the talk pack builds from the sidebar."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

PAGE, PAGE_TIMEOUT = "atlas", 180  # dashboard/app_pages/atlas.py, for the run_page fixture
CARD = re.compile(r"^\*\*(\d+) · (.+)\*\*$")  # "k · the name the concept goes by"


@pytest.fixture(scope="module")
def page(analysed_run, dashboard_env_module, run_page):
    return run_page()


@pytest.fixture(scope="module")
def dashboard_env_module(analysed_run):
    """dashboard_env for a whole module (one page run shared by several checks)."""
    import os

    _, _, roots = analysed_run
    old = {k: os.environ.get(k) for k in roots}
    os.environ.update(roots)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def decode(v):
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata", "shape"}."""
    import base64

    import numpy as np

    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(x) for x in str(v.get("shape", len(a))).split(",")]).tolist()
    return v


def charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_page_loads_with_its_three_parts(page, no_problems):
    no_problems(page)
    assert [h.value for h in page.header] == ["Map of the images", "Where the model looks, per city", "Concepts"]


def test_map_is_an_atlas_of_cells_counting_every_image(page, analysed_run):
    cells = analysed_run[1].table("atlas_cells")
    atlas = [c for c in charts(page) if c["data"] and c["data"][0].get("name") == "cells"]
    assert len(atlas) == 1 and atlas[0]["data"][0]["type"] == "scatter"
    shown = {int(cd[0]) for cd in decode(atlas[0]["data"][0]["customdata"])}
    level16 = cells[cells["level"] == 16]
    assert shown == set(level16["cell"])  # the default zoom: 16 × 16 over the whole plane
    assert level16["count"].sum() == len(analysed_run[1].table("samples"))
    assert len(atlas[0]["layout"]["images"]) == 1  # the mosaic of typical photos


def test_single_images_zoom_has_every_image_once(dashboard_env, analysed_run, run_page, no_problems):
    samples = analysed_run[1].table("samples")
    at = run_page(zoom="images", color="correctness")
    no_problems(at)
    umap = [c for c in charts(at) if any(t.get("type") == "scattergl" and str(t.get("name", "")).startswith(
        ("correct", "wrong")) for t in c["data"])]
    assert len(umap) == 1
    rows = [int(cd[0]) for t in umap[0]["data"] if t.get("type") == "scattergl" for cd in decode(t["customdata"])]
    assert sorted(rows) == sorted(samples["row"])


def test_a_region_at_the_finest_level_shows_only_its_cells(dashboard_env, analysed_run, run_page, no_problems):
    cells = analysed_run[1].table("atlas_cells")
    fine = cells[cells["level"] == 64].sort_values("count").iloc[-1]
    region = f"{fine['x0']},{fine['x1'] + 3 * (fine['x1'] - fine['x0'])},{fine['y0']},{fine['y1']}"
    at = run_page(zoom="64", region=region, tiles="colour")
    no_problems(at)
    atlas = [c for c in charts(at) if c["data"] and c["data"][0].get("name") == "cells"][0]
    shown = {int(cd[0]) for cd in decode(atlas["data"][0]["customdata"])}
    assert int(fine["cell"]) in shown and shown <= set(cells[cells["level"] == 64]["cell"])
    assert all(cells.set_index("cell").loc[c, "x0"] < fine["x1"] + 3 * (fine["x1"] - fine["x0"]) for c in shown)


def test_one_card_per_concept_with_its_importance(page, analysed_run, walk):
    imp = analysed_run[1].table("concept_importance")
    city = imp[imp["head"] == "city"]
    order = list(walk(page.main))
    start = next(i for i, el in enumerate(order) if el.type == "subheader" and el.value == "All concepts")
    cards = {}
    for i in range(start, len(order)):
        el = order[i]
        if el.type == "markdown" and (m := CARD.match(el.value)):
            top_line = next(e.value for e in order[i + 1:] if e.type == "markdown")
            cards[int(m.group(1))] = top_line
    assert sorted(cards) == sorted(city["concept"].unique())
    for k, bars in cards.items():
        want = city[city["concept"] == k].sort_values("importance", ascending=False)
        shown = re.findall(r'text-align:right;white-space:nowrap">([^<]*)</td>.*?nowrap">([^<]*)</td></tr>', bars)
        assert shown == [(t, f"{v:+.2f}") for t, v in zip(want["target"], want["importance"])]


def test_heatmap_shows_the_importance_matrix(page, analysed_run):
    imp = analysed_run[1].table("concept_importance")
    city = imp[imp["head"] == "city"]
    hm = [t for c in charts(page) for t in c["data"] if t.get("type") == "heatmap" and t.get("zmid") == 0]
    assert len(hm) == 1
    assert len(decode(hm[0]["z"])) == city["concept"].nunique()
    for i, row in enumerate(decode(hm[0]["z"])):
        for j, v in enumerate(row):
            y = hm[0]["y"][i]  # "k · name", or "concept k" before the names stage
            k, target = int(y.split()[0] if y[0].isdigit() else y.split()[-1]), hm[0]["x"][j]
            expected = city[(city["concept"] == k) & (city["target"] == target)]["importance"].iat[0]
            assert v == pytest.approx(expected, rel=1e-6)


def test_concept_in_url_is_detailed(dashboard_env, analysed_run, run_page, no_problems):
    imp = analysed_run[1].table("concept_importance")
    k = int(sorted(imp["concept"].unique())[-1])
    at = run_page(concept=k)
    no_problems(at)
    assert at.selectbox(key="w_concept").value == k
    assert at.subheader[0].value.startswith(f"{k} · ")
    bars = [c for c in charts(at) if c["data"][0].get("type") == "bar" and c["layout"].get("title")]
    detail = [c for c in bars if "Importance per city" in c["layout"]["title"]["text"]][0]
    sub = imp[(imp["head"] == "city") & (imp["concept"] == k)].sort_values("importance", ascending=False)
    assert detail["data"][0]["y"] == list(sub["target"])


def test_mean_gradcam_picture_is_shown(page):
    assert any("Mean Grad-CAM of each city" in c.value for c in page.caption)
    assert len(page.get("image")) >= 1


def test_talk_pack_from_the_sidebar(dashboard_env, analysed_run, run_page, no_problems):
    run = analysed_run[0]
    at = run_page()
    chosen = ["Mean Grad-CAM per city", "Concept cards"]
    at.multiselect(key="talkpack-figures").set_value(chosen).run()
    at.button(key="talkpack-build").click().run()
    no_problems(at)
    data, problems, n = at.session_state[f"talkpack-zip-{run.name}"]
    assert problems == [] and n == 2
    names = sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert names == sorted(["figures/01-mean-grad-cam-per-city.png", "figures/01-mean-grad-cam-per-city.pdf",
                            "figures/02-concept-cards.png", "figures/02-concept-cards.pdf",
                            "summary.md", "summary.pdf"])
    assert any(b.label.startswith(f"{run.name}-talk.zip") for b in at.get("download_button"))


def test_umap_from_this_session_goes_into_the_talk_pack(dashboard_env, analysed_run, run_page, no_problems):
    """The UMAP scatter is offered in the talk pack and exports to a PDF."""
    run = analysed_run[0]
    at = run_page()
    no_problems(at)
    option = next(o for o in at.multiselect(key="talkpack-figures").options if o.startswith("UMAP"))
    at.multiselect(key="talkpack-figures").set_value([option]).run()
    at.button(key="talkpack-build").click().run()
    no_problems(at)
    data, problems, n = at.session_state[f"talkpack-zip-{run.name}"]
    assert problems == [] and n == 1
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        pdfs = [name for name in z.namelist() if name.startswith("figures/") and name.endswith(".pdf")]
        assert len(pdfs) == 1 and z.read(pdfs[0]).startswith(b"%PDF")


def test_zoom_into_a_picked_cell_and_back_to_the_whole_map(dashboard_env, analysed_run, run_page, no_problems):
    """A cell picked on the 8 × 8 map (its chart's selection state), then "Zoom into the
    selection": the region and a level that shows it at least 8 cells across, in the URL
    *and* in the zoom selector (whose own state used to win, leaving the map at 8 × 8);
    then "Whole map" goes back to the default view."""
    from analysis.precompute import atlas_views

    cells = analysed_run[1].table("atlas_cells")
    cell = cells[cells["level"] == 8].sort_values("count").iloc[-1]
    at = run_page(zoom="8", tiles="colour")
    no_problems(at)
    at.session_state["atlas_cells_8_class_False_None"] = {
        "selection": {"points": [{"customdata": [int(cell["cell"])]}], "point_indices": [], "box": [], "lasso": []}}
    at.run()
    no_problems(at)
    at.button(key="atlas_zoom_in").click().run()
    no_problems(at)
    level = atlas_views.zoom_level(cells, atlas_views.bounds_of(cells[cells["cell"] == cell["cell"]]))
    assert level == 64  # one cell of 8 × 8 is 8 cells across at 64 × 64
    assert at.query_params["zoom"] == "64" and at.selectbox(key="w_zoom").value == "64"
    assert at.query_params["region"]
    at.button(key="atlas_whole").click().run()
    no_problems(at)
    assert "region" not in at.query_params and at.selectbox(key="w_zoom").value == "16"
