"""The Curate page (AppTest): worst street scores first, every click written to the
dataset table at once, bulk actions, undo, two tabs side by side.

The thumbnail grid is one custom element (``dashboard/curate_grid.py``): AppTest cannot
click inside it, so its clicks are driven through ``apply_event`` — exactly what the
element's callback calls — and what the grid shows is read from the element's data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis import jobs
from analysis.data import curation, scores
from analysis.data.dataset import Dataset
from analysis.data.importer import ImportOptions, import_folder
from analysis.store import JobFiles, write_json_atomic
from dashboard import curate_grid

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "app_pages" / "curate.py")


@pytest.fixture
def env(tmp_path, photo_tree, monkeypatch):
    """A dataset of 10 seoul + 4 london_on photos with known street scores (not in file
    order), the dashboard pointed at it."""
    src = photo_tree({"seoul": 10, "london_on": 4})
    data = tmp_path / "data"
    ds = Dataset(data / "streets")
    import_folder(src, ds, options=ImportOptions(workers=1), progress=False)
    t = ds.read()
    rng = np.random.default_rng(0)
    street = rng.permutation(np.linspace(0.02, 0.98, len(t)))
    df = pd.DataFrame({"id": t["id"], "street": street, "outlier": 1 - street, "scene": "street",
                       "scene_p": street, "scene_top": [f"street {s:.2f}" for s in street]})
    df = scores.conform_scores(df)
    df.attrs = {"model": "test", "street_categories": ["street"], "computed": "2026-01-01T00:00:00"}
    df.to_parquet(ds.files.scores, index=False)
    monkeypatch.setenv("STREETLENS_DATA", str(data))
    monkeypatch.setenv("STREETLENS_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("STREETLENS_CACHE", str(tmp_path / "cache"))
    return ds, dict(zip(t["id"].astype(str), street))


def page(cls: str = "seoul", **params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["cls"] = cls
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def grid(at: AppTest) -> list[dict]:
    """The cells the grid element was given (id, status, selected, current, captions)."""
    def find(node):
        kids = node.children.values() if isinstance(getattr(node, "children", None), dict) else \
            getattr(node, "children", [])
        for c in kids:
            if getattr(c, "type", "") == "bidi_component":
                return c
            hit = find(c)
            if hit is not None:
                return hit
        return None

    el = find(at.main)
    return json.loads(el.proto.json)["cells"] if el is not None else []


def grid_ids(at: AppTest) -> list[str]:
    ids = [c["id"] for c in grid(at)]
    assert ids == list(at.session_state["curate_page_ids"])
    return ids


def click(at: AppTest, root: Path, event: dict) -> AppTest:
    """A click in the grid: the element's callback, then the rerun it causes."""
    session = {k: at.session_state[k] for k in (curate_grid.SELECTED, curate_grid.CURSOR)
               if k in at.session_state}
    curate_grid.apply_event(event, str(root), at.session_state["curate_who"], session)
    for k, v in session.items():
        at.session_state[k] = v
    return at.run()


def status(ds: Dataset) -> dict[str, str]:
    t = ds.read()  # the file on disk, not the page's memory
    return dict(zip(t["id"].astype(str), t["curated"].astype(str)))


def test_low_street_scores_come_first(env):
    ds, street = env
    at = page()
    assert not at.exception
    ids = grid_ids(at)
    seoul = ds.read().query("`class` == 'seoul'")["id"].astype(str)
    assert sorted(ids) == sorted(seoul)
    assert ids == sorted(seoul, key=street.get)  # lowest street score first
    assert "street" in at.caption[0].value or any("street" in c.value for c in at.caption)
    # the focused image's source, read for that image only
    first = ds.read().set_index("id").loc[ids[0], "source"]
    shown = first if str(first).startswith("http") else Path(str(first)).name
    assert any(f"source: {shown}" in c.value for c in at.caption)
    at = page(order="file")
    assert grid_ids(at) == ds.read().query("`class` == 'seoul'").sort_values("path")["id"].tolist()
    at = page(order="outlier")
    assert grid_ids(at)[0] == max(seoul, key=lambda i: 1 - street[i])


def test_accept_reject_buttons_write_dataset_parquet(env):
    ds, street = env
    at = page()
    first, second, third = grid_ids(at)[:3]
    assert [c["current"] for c in grid(at)][:2] == [True, False]
    at.button(key="k_accept").click().run()  # A: the current image (the first)
    assert status(ds)[first] == "accepted"
    assert grid(at)[0]["status"] == "accepted" and grid(at)[1]["current"]
    at.button(key="k_reject").click().run()  # X: the cursor moved on to the second
    assert status(ds)[second] == "rejected"
    click(at, ds.root, {"type": "decide", "id": third, "status": "rejected"})  # a cell's ✗
    assert status(ds)[third] == "rejected" and grid(at)[2]["status"] == "rejected"
    assert grid(at)[2]["current"]  # the clicked image became the current one
    click(at, ds.root, {"type": "decide", "id": third, "status": "unreviewed"})  # ✗ again
    assert status(ds)[third] == "unreviewed"
    at.button(key="k_reset").click().run()  # Backspace on the current image
    assert not at.exception
    log = curation.read_log(ds)
    assert len(log) == 4 and {e["source"] for e in log} == {"page"}
    assert {e["who"] for e in log} == {at.session_state["curate_who"]}


def test_bulk_actions_and_undo(env):
    ds, street = env
    at = page()
    ids = grid_ids(at)
    at.button(key="b_selall").click().run()
    assert all(c["selected"] for c in grid(at))
    click(at, ds.root, {"type": "toggle", "id": ids[0]})  # untick the first
    assert [c["selected"] for c in grid(at)][:2] == [False, True]
    at.button(key="b_rej").click().run()
    st = status(ds)
    assert st[ids[0]] == "unreviewed" and all(st[i] == "rejected" for i in ids[1:])
    assert not any(c["selected"] for c in grid(at))  # selection cleared
    at.button(key="b_undo").click().run()
    assert all(v == "unreviewed" for v in status(ds).values())
    # accept the rest of the page except what is selected
    click(at, ds.root, {"type": "toggle", "id": ids[1]})
    at.button(key="b_rest").click().run()
    st = status(ds)
    assert st[ids[1]] == "unreviewed" and sum(v == "accepted" for v in st.values()) == len(ids) - 1
    # relabel the selected image to the other class: class, group and decision change
    at.button(key="b_move").click().run()
    row = ds.read().set_index("id").loc[ids[1]]
    assert (row["class"], row["group"], row["curated"]) == ("london_on", "West", "accepted")
    # reject by score: the unreviewed ones below the threshold (none left in seoul now)
    at = page("london_on")
    low = [i for i, s in street.items() if s < 0.5 and ds.read().set_index("id").at[i, "class"] == "london_on"
           and status(ds)[i] == "unreviewed"]
    at.number_input(key="w_thr_street").set_value(0.5).run()
    at.button(key="b_thr").click().run()
    assert {i for i, v in status(ds).items() if v == "rejected"} == set(low)
    # the log lists the actions and undoes any of them
    assert any(b.key and b.key.startswith("undo-") for b in at.button)


def test_two_tabs_do_not_overwrite_each_other(env):
    ds, _ = env
    tab1, tab2 = page(), page()
    ids = grid_ids(tab1)
    click(tab1, ds.root, {"type": "decide", "id": ids[0], "status": "accepted"})
    click(tab2, ds.root, {"type": "decide", "id": ids[1], "status": "rejected"})  # tab2 never saw tab1's
    st = status(ds)
    assert st[ids[0]] == "accepted" and st[ids[1]] == "rejected"
    assert grid(tab2)[0]["status"] == "accepted"  # tab2 shows tab1's decision after its rerun
    tab2.button(key="b_undo").click().run()  # undo acts on tab2's own last action only
    st = status(ds)
    assert st[ids[0]] == "accepted" and st[ids[1]] == "unreviewed"


def test_filters_and_paging(env):
    ds, _ = env
    at = page()
    ids = grid_ids(at)
    curation.decide(ds, ids[:3], "rejected")
    at = page(show="unreviewed")
    assert grid_ids(at) == ids[3:]
    at = page(show="rejected")
    assert grid_ids(at) == ids[:3]


def test_without_scores_offers_a_background_run(env, monkeypatch):
    ds, _ = env
    ds.files.scores.unlink()
    started = []
    monkeypatch.setattr(jobs, "start_job", lambda job_id, args, cache_root, env=None: started.append(
        (job_id, args, cache_root)))
    at = page()
    assert not at.exception
    assert any("No scores yet" in i.value for i in at.info)
    assert grid_ids(at) == ds.read().query("`class` == 'seoul'").sort_values("path")["id"].tolist()
    at.button(key="curate_score_btn").click().run()
    assert started == [(jobs.scores_job_id(ds.root), jobs.scores_args(ds.root), Path(ds.root.parents[1] / "cache"))]


def test_no_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("STREETLENS_DATA", str(tmp_path / "empty"))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception and "No dataset" in at.info[0].value


def test_grid_events(env):
    ds, _ = env
    a, b = ds.read()["id"].astype(str)[:2]
    session: dict = {}
    assert curate_grid.apply_event(None, str(ds.root), "me", session) is None
    curate_grid.apply_event({"type": "focus", "id": a}, str(ds.root), "me", session)
    assert session[curate_grid.CURSOR] == a
    curate_grid.apply_event({"type": "toggle", "id": a}, str(ds.root), "me", session)
    curate_grid.apply_event({"type": "toggle", "id": b}, str(ds.root), "me", session)
    curate_grid.apply_event({"type": "toggle", "id": a}, str(ds.root), "me", session)
    assert session[curate_grid.SELECTED] == [b]
    action = curate_grid.apply_event({"type": "decide", "id": b, "status": "rejected"}, str(ds.root),
                                     "me", session)
    assert action.n == 1 and status(ds)[b] == "rejected" and session[curate_grid.CURSOR] == b
    assert curate_grid.apply_event({"type": "decide", "id": b, "status": "bogus"}, str(ds.root),
                                   "me", session) is None
    curate_grid.apply_event({"type": "decide", "id": "nope", "status": "accepted"}, str(ds.root),
                            "me", session)
    assert "not in" in session[curate_grid.MESSAGE]
    assert curate_grid.event_of({"event": {"type": "focus", "id": a}}) == {"type": "focus", "id": a}
    assert curate_grid.event_of({"event": None}) is None


def test_background_scoring_progress_is_shown(env):
    """What the scoring job writes about itself is what the page shows."""
    import os

    ds, _ = env
    progress = JobFiles.under(ds.root.parents[1] / "cache", jobs.scores_job_id(ds.root)).progress
    state = {"state": "running", "pid": os.getpid(), "done": 3, "total": 14, "fraction": 0.2, "time": 0}
    write_json_atomic(progress, state)  # alive: this process
    at = page()
    assert not at.exception
    assert any("Scoring in the background: 3/14" in (p.text or "") for p in at.get("progress"))
    write_json_atomic(progress, {**state, "pid": 2 ** 22 + 4321})  # the scoring process died
    at = page()
    assert any("Scoring failed" in e.value for e in at.error)
