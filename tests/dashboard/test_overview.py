"""Overview page (and the app's navigation) against the analysed tiny run: the numbers
it SHOWS are the run's, and without runs it offers the demo build."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.store import JobFiles, write_json_atomic

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "dashboard" / "app_pages" / "overview.py"
APP = ROOT / "dashboard" / "app.py"


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def open_page(path: Path = PAGE, **params) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def page_module():
    """The page file imported as a module (its ``main()`` does not run)."""
    spec = importlib.util.spec_from_file_location("overview_page", PAGE)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def values(x) -> np.ndarray:
    """A plotly JSON array: a (nested) list, or plotly's typed array {"dtype", "bdata", "shape"}."""
    if isinstance(x, dict) and "bdata" in x:
        import base64

        a = np.frombuffer(base64.b64decode(x["bdata"]), dtype=np.dtype(x["dtype"]))
        shape = x.get("shape")
        return a.reshape([int(v) for v in str(shape).split(",")] if shape else -1).astype(float)
    return np.asarray(x, dtype=float)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_headline_metrics_are_the_runs(dashboard_env):
    run, _ = dashboard_env
    at = open_page()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"
    m = run.info["metrics"]
    assert metric(at, "Test city accuracy") == f"{m['test']['city']['accuracy']:.1%}"
    assert metric(at, "Test city macro-F1") == f"{m['test']['city']['macro_f1']:.1%}"
    assert metric(at, "Test group accuracy") == f"{m['test']['group']['accuracy']:.1%}"
    assert metric(at, "Val city accuracy") == f"{m['val']['city']['accuracy']:.1%}"
    assert any(run.name in md.value for md in at.markdown)


def test_runs_table_and_dataset_counts(dashboard_env):
    run, _ = dashboard_env
    at = open_page()
    runs_table = at.dataframe[0].value
    assert list(runs_table["run"]) == [run.name]
    assert "test city" in runs_table.columns
    counts = at.dataframe[1].value
    n = run.info["dataset"]["n_images"]
    assert int(counts.loc["all", "total"]) == n
    assert set(counts.index) == set(run.labels.classes) | {"all"}
    assert any(f"{n} images" in md.value for md in at.markdown)


def test_confusion_matrices_are_row_normalised_from_run_json(dashboard_env):
    run, _ = dashboard_env
    at = open_page()
    figs = {c["layout"]["title"]["text"].split(" · accuracy")[0]: c for c in charts(at)
            if c["layout"].get("title", {}).get("text", "").count(" · ") >= 2}
    assert set(figs) == {"val · city", "test · city", "val · group", "test · group"}
    for split in ("val", "test"):
        for head in ("city", "group"):
            cm = np.asarray(run.info["metrics"][split][head]["confusion"], dtype=float)
            rows = cm.sum(1, keepdims=True)
            expected = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
            heat = figs[f"{split} · {head}"]["data"][0]
            np.testing.assert_allclose(values(heat["z"]), expected)
            assert heat["x"] == list(run.info["metrics"][split][head]["labels"])
    acc = run.info["metrics"]["test"]["city"]["accuracy"]
    assert any(c["layout"]["title"]["text"] == f"test · city · accuracy {acc:.1%} (n = "
               f"{run.info['metrics']['test']['city']['n']})" for c in charts(at)
               if "title" in c["layout"])


def test_training_curves_of_the_run(dashboard_env):
    run, _ = dashboard_env
    at = open_page()
    curves = next(c for c in charts(at) if any(t.get("name") == "val city" for t in c["data"]))
    epochs = len(run.history())
    val = next(t for t in curves["data"] if t["name"] == "val city")
    np.testing.assert_allclose(values(val["y"]), run.history()["val_city_acc"].to_numpy(), rtol=1e-6)
    assert any(f"{epochs} epochs run" in c.value for c in at.caption)


def test_without_runs_it_offers_the_demo_build(tmp_path, monkeypatch):
    for k, sub in (("STREETLENS_MODELS", "models"), ("STREETLENS_CACHE", "cache"), ("STREETLENS_DATA", "data")):
        monkeypatch.setenv(k, str(tmp_path / sub))
    started = []

    class FakePopen:
        def __init__(self, args, **kw):
            started.append((args, kw))
            self.pid = 424242

        def poll(self):
            return None  # still running

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    at = open_page()
    assert not at.exception, [e.value for e in at.exception]
    assert any("No trained run yet" in i.value for i in at.info)
    button = at.button(key="demo_start")
    assert button.label == "Build the demo"
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(started) == 1
    args, kw = started[0]
    assert "demo" in args and str(tmp_path / "models") in args and str(tmp_path / "cache") in args
    # the job writes its own progress: the command is told where
    progress_file = JobFiles.under(tmp_path / "cache", "demo").progress
    assert args[args.index("--progress-file") + 1] == str(progress_file.resolve())
    assert kw["start_new_session"] and kw["env"]["STREETLENS_MODELS"] == str((tmp_path / "models").resolve())
    # never blocks: the page is back at once, showing the progress of the running build
    assert [s.label for s in at.status] == ["Building the demo … 0%"]
    assert not [b for b in at.button if b.key == "demo_start"]
    # what the job writes is what the page shows: no parsing of its output
    write_json_atomic(progress_file, {"state": "running", "pid": 424242, "fraction": 0.42,
                                      "step": "training demo-a · epochs", "time": 0})
    at.run()
    assert [s.label for s in at.status] == ["Building the demo … 42%"]
    assert at.get("progress")[0].proto.text == "training demo-a · epochs"


def test_finished_failed_build_shows_its_log_and_a_retry(tmp_path, monkeypatch):
    for k, sub in (("STREETLENS_MODELS", "models"), ("STREETLENS_CACHE", "cache"), ("STREETLENS_DATA", "data")):
        monkeypatch.setenv(k, str(tmp_path / sub))
    files = JobFiles.under(tmp_path / "cache", "demo")
    files.root.mkdir(parents=True)
    files.log.write_text("[1/3] drawing …\nError: disk full\n")
    write_json_atomic(files.progress, {"state": "failed", "pid": 999999999, "fraction": 0.1,
                                       "message": "disk full", "time": 0})
    at = open_page()
    assert not at.exception
    assert any("failed: disk full" in e.value for e in at.error)
    assert "Error: disk full" in at.code[0].value
    assert at.button(key="demo_start").label == "Try again"


def test_app_navigation_defaults_to_overview(dashboard_env):
    at = open_page(APP)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"


def _page_table(app_path: str) -> None:
    """(AppTest script) the app's pages as JSON: file, url path, default, visibility."""
    import json
    from pathlib import Path

    import streamlit as st

    app = {"__file__": app_path, "__name__": "app_table"}  # not "__main__": the app's main() is not run
    exec(compile(Path(app_path).read_text(), app_path, "exec"), app)  # the page table, without running the app
    pages = [p for group in app["build_pages"]().values() for p in group]
    st.code(json.dumps({"specs": [list(spec) for spec in app["PAGE_SPECS"]],
                        "pages": [[p.url_path, p._default, p.visibility] for p in pages]}))


def test_every_page_of_the_menu_exists_and_keeps_its_address():
    """Each listed page file exists, and each page has its own address: the root's default
    is a hidden page that opens the first one, so ``/overview`` is a page too (a default
    page's own address says "Page not found" in Streamlit)."""
    at = AppTest.from_function(_page_table, args=(str(APP),), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    table = json.loads(at.code[0].value)
    for _, file, *_ in table["specs"]:
        assert (ROOT / "dashboard" / "app_pages" / file).is_file(), file
    default = [p for p in table["pages"] if p[1]]
    assert default == [["", True, "hidden"]]
    listed = [p for p in table["pages"] if not p[1]]
    assert [p[0] for p in listed] == [spec[-1] for spec in table["specs"]]
    assert all(p[2] == "visible" for p in listed)


def test_an_experiments_runs_are_grouped_with_its_table_and_charts(tiny_dataset, analysed_run, tmp_path,
                                                                    point_dashboard):
    import shutil

    from analysis.experiment.grid import Experiment
    from analysis.experiment.runner import run_experiment

    run, _, roots = analysed_run
    models = tmp_path / "models"
    shutil.copytree(run.path, models / run.name)  # one run of its own
    exp = Experiment("grid", str(tiny_dataset.root), ("tiny_cnn",), ("transfer", "finetune"),
                     fractions=(0.5, 1.0), seeds=(0, 1),
                     train={"epochs": 2, "batch_size": 8, "cache_precision": "fp32", "train_precision": "fp32"})
    run_experiment(exp, models_root=models, cache_root=tmp_path / "cache", progress=False, log=lambda m: None)
    point_dashboard({**roots, "STREETLENS_MODELS": str(models)})
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.query_params["run"] = exp.run_names()[0]
    at.run()
    assert not at.exception and not at.error
    assert "Experiments" in [h.value for h in at.subheader]
    assert any("Experiment **grid**" in e.label and "8 of 8 runs" in e.label for e in at.expander)
    text = " ".join(m.value for m in at.markdown)
    assert "Best\\: tiny\\_cnn · " in text  # the verdict, escaped as plain text
    frames = at.dataframe
    # the loose run alone in "Runs compared"; the experiment's 8 runs in their own table
    assert [len(f.value) for f in frames if "run" in f.value.columns and len(f.value) == 1]
    assert any(len(f.value) == 8 for f in frames)
    assert any("Data efficiency" in str(c.proto.spec) for c in at.get("plotly_chart"))
