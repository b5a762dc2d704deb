"""streetlens analyze on a tiny run: artefacts agree with the model, resume after a crash
or a kill, stale caches and changed parameters are recomputed, stages are found by their
descriptors and ordered by what they read."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.precompute import AnalyzeConfig, all_stages, analyze, missing_hint
from analysis.precompute.engines.forward_work import ForwardWorker
from analysis.precompute.runner import downstream, plan
from analysis.store import RunCache
from analysis.train.data import load_rgb
from analysis.train.runs import load_model

ROOT = Path(__file__).resolve().parents[3]
FAST = AnalyzeConfig(batch_size=8, stages=("forward", "channels"))


def quiet(*_):
    pass


def test_forward_artefacts_match_the_model(tiny_run, tiny_dataset, tmp_path):
    cache = analyze(tiny_run.path, config=FAST, cache_root=tmp_path, progress=False, log=quiet)
    samples = cache.samples()
    rows = tiny_dataset.usable()
    assert samples["id"].tolist() == rows["id"].tolist()
    model = load_model(tiny_run)
    tf = tiny_run.eval_transform()
    x = torch.stack([tf(load_rgb(tiny_dataset.image_path(p))) for p in rows["path"][:5]])
    with torch.no_grad():
        c, g = model(x)
        fmap = model.features(x)
    np.testing.assert_allclose(cache.array("class_logits")[:5], c.numpy(), atol=1e-5)
    np.testing.assert_allclose(cache.array("group_logits")[:5], g.numpy(), atol=1e-5)
    np.testing.assert_allclose(cache.activations()[:5], fmap.numpy(), atol=2e-2, rtol=1e-2)
    assert cache.cams().shape == (len(rows), 3 + 2, 8, 8)
    assert (samples["pred_class"] == [tiny_run.labels.classes[i] for i in c.argmax(1).tolist()] + list(
        samples["pred_class"][5:])).all()
    assert samples["correct"].dtype == bool and samples["p_pred"].between(0, 1).all()
    top = cache.top_channels()
    assert set(top["target"]) == {"paris", "seoul", "tokyo", "East", "West"}
    assert cache.stage_done("forward") and cache.manifest["n_images"] == len(rows)


def test_interrupted_analysis_resumes_without_corruption(tiny_run, tmp_path, monkeypatch):
    """Ctrl-C in the 4th of 9 shards: 3 shards stay committed, nothing is readable as
    finished, and the rerun computes exactly the 6 others — bit-identical to a clean run."""
    config = AnalyzeConfig(batch_size=8, stages=("forward", "channels"), shard_rows=8)
    reference = analyze(tiny_run.path, config=config, cache_root=tmp_path / "ref", progress=False, log=quiet)
    real = ForwardWorker.commit  # the local engine computes, then commits in its writing thread
    written = []

    def crashing(worker, index, computed, started):
        if len(written) == 3:
            raise KeyboardInterrupt  # dies in the middle of the forward stage
        written.append(index)
        return real(worker, index, computed, started)

    monkeypatch.setattr(ForwardWorker, "commit", crashing)
    with pytest.raises(KeyboardInterrupt):
        analyze(tiny_run.path, config=config, cache_root=tmp_path / "c", progress=False, log=quiet)
    cache = RunCache.for_run(tiny_run.name, tmp_path / "c")
    assert not cache.has("cams") and not cache.has("samples")  # no reader takes it for finished
    assert cache.shard_set("forward").done() == [0, 1, 2]
    written.clear()

    def recording(worker, index, computed, started):
        written.append(index)
        return real(worker, index, computed, started)

    monkeypatch.setattr(ForwardWorker, "commit", recording)
    resumed = analyze(tiny_run.path, config=config, cache_root=tmp_path / "c", progress=False, log=quiet)
    assert written == [3, 4, 5, 6, 7, 8]  # continued, did not start over
    for name in ("cams", "class_logits", "channel_attr", "activations", "features", "class_probs"):
        np.testing.assert_array_equal(resumed.array(name)[:], reference.array(name)[:])
    pd.testing.assert_frame_equal(resumed.samples(), reference.samples())
    listed = resumed.stage_record("forward")["shards"]
    assert listed["count"] == 9 and [s["rows"] for s in listed["list"]][-1] == [64, 72]


def test_killed_process_resumes(tiny_run, tmp_path):
    """A real SIGKILL in the middle of the forward stage, then a rerun."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r});"
            "from analysis.precompute import analyze, AnalyzeConfig;"
            f"analyze({str(tiny_run.path)!r}, config=AnalyzeConfig(batch_size=1, shard_rows=4, "
            f"stages=('forward',)), cache_root={str(tmp_path)!r}, progress=False, log=lambda *a: None)")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    cache = RunCache.for_run(tiny_run.name, tmp_path)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            done = len(cache.shard_set("forward").done())
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= done < 18, "the process should have been killed mid-stage"
    cache = analyze(tiny_run.path, config=AnalyzeConfig(batch_size=4, shard_rows=4, stages=("forward",)),
                    cache_root=tmp_path, progress=False, log=quiet)
    fresh = analyze(tiny_run.path, config=AnalyzeConfig(batch_size=4, shard_rows=4, stages=("forward",)),
                    cache_root=tmp_path / "fresh", progress=False, log=quiet)
    np.testing.assert_allclose(cache.cams()[:], fresh.cams()[:], atol=1e-3)
    # same rows, labels and predictions; probabilities equal up to summation order (rows
    # the killed process computed in batches of 1, the rerun in batches of 4); the margin
    # is a difference of two probabilities, so it gets an absolute tolerance too
    pd.testing.assert_frame_equal(cache.samples(), fresh.samples(), check_exact=False, rtol=1e-5, atol=1e-6)


def test_stale_cache_is_detected_and_recomputed(tiny_run, tiny_dataset, tmp_path):
    cache = analyze(tiny_run.path, config=FAST, cache_root=tmp_path, progress=False, log=quiet)
    m = cache.manifest
    assert cache.problems(m["model_fingerprint"], m["dataset_fingerprint"]) == []
    assert cache.problems("other-model", m["dataset_fingerprint"])
    messages = []
    # a changed parameter reruns only the stage it belongs to, not the forward pass
    again = analyze(tiny_run.path, config=AnalyzeConfig(batch_size=8, top_channels=3,
                                                        stages=("forward", "channels")),
                    cache_root=tmp_path, progress=False, log=messages.append)
    assert messages[0] == "forward    cached" and messages[1].startswith("channels ")
    assert again.top_channels()["rank"].max() == 2
    # another model: everything is recomputed
    manifest = json.loads(cache.manifest_path.read_text())
    manifest["model_fingerprint"] = "someone-else"
    cache.manifest_path.write_text(json.dumps(manifest))
    messages.clear()
    analyze(tiny_run.path, config=FAST, cache_root=tmp_path, progress=False, log=messages.append)
    assert "recomputing" in messages[0] and messages[1].startswith("forward ") and "cached" not in messages[1]


def test_unknown_stage_is_an_error(tiny_run, tmp_path):
    with pytest.raises(ValueError, match="unknown stage.*choose from forward, map"):
        analyze(tiny_run.path, config=AnalyzeConfig(stages=("nope",)), cache_root=tmp_path, log=quiet)


def test_stages_come_in_dependency_order_and_bring_their_inputs(tiny_run, tmp_path):
    stages = all_stages()
    names = list(stages)
    assert names[:1] == ["forward"] and names.index("concepts") < names.index("featvis")
    assert names.index("channels") < names.index("featvis") and not stages["reliability"].default
    empty = RunCache(tmp_path / "none")
    assert [s.name for s in plan(("featvis",), empty, stages)] == ["forward", "channels", "concepts", "featvis"]
    assert [s.name for s in plan(("map",), empty, stages)] == ["forward", "map"]
    assert downstream("channels", stages) == ["channel_images", "featvis"]
    assert downstream("concepts", stages) == ["concept_effects", "concept_stability", "concept_profiles",
                                              "concept_names", "featvis", "shortcuts"]
    assert set(downstream("forward", stages)) == set(names) - {"forward"}
    # asked for channels only on an empty cache: the forward pass comes along
    messages = []
    analyze(tiny_run.path, config=AnalyzeConfig(batch_size=8, stages=("channels",)), cache_root=tmp_path,
            progress=False, log=messages.append)
    assert [m.split()[0] for m in messages] == ["forward", "channels"]


def test_a_changed_upstream_stage_reruns_what_reads_it(tiny_run, tmp_path):
    """channels with another parameter: its fingerprint changes, so featvis (which reads
    its table) is discarded and rerun, while map (which does not) stays cached."""
    cfg = dict(batch_size=8, featvis_steps=2, featvis_size=32, n_concepts=3, concept_rows=2000)
    analyze(tiny_run.path, config=AnalyzeConfig(**cfg), cache_root=tmp_path, progress=False, log=quiet)
    messages = []
    cache = analyze(tiny_run.path, config=AnalyzeConfig(**cfg, top_channels=4), cache_root=tmp_path,
                    progress=False, log=messages.append)
    status = {m.split()[0]: m.split()[1] for m in messages}
    assert status["forward"] == status["map"] == status["concepts"] == status["class_means"] == "cached"
    assert status["channels"] != "cached" and status["featvis"] != "cached"
    assert status["channel_images"] != "cached"
    assert cache.stage_record("featvis")["fingerprint"] != "" and cache.has("featvis")


@pytest.fixture
def forget_brightest():
    yield
    from analysis.store import ARTEFACTS

    ARTEFACTS.pop("brightest", None)


def test_a_new_stage_is_one_module(tiny_run, tmp_path, monkeypatch, forget_brightest):
    """Dropping a module that defines STAGE into the stages package is all it takes: the
    runner orders it after its inputs, runs it, fingerprints it, and the hint names it."""
    from analysis.precompute import stages as package

    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "brightest.py").write_text(
        "import numpy as np, pandas as pd\n"
        "from analysis.precompute.stage import Stage\n"
        "def run(ctx):\n"
        "    p = np.asarray(ctx.cache.class_probs())\n"
        "    top = np.argsort(-p.max(1))[: ctx.param('how_many')]\n"
        "    ctx.cache.write_table('brightest', pd.DataFrame({'row': top}))\n"
        "    return {'rows': len(top)}\n"
        "STAGE = Stage(name='brightest', doc='the most confident images', run=run, default=False,\n"
        "              reads=('class_probs',), writes=('brightest',), params=('how_many',),\n"
        "              defaults={'how_many': 3}, order=5,\n"
        "              new_artefacts=(('brightest', 'table', 'rows of the most confident images'),))\n")
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(extra)])
    stages = all_stages()
    assert list(stages).index("brightest") > list(stages).index("forward")
    cache = analyze(tiny_run.path, config=AnalyzeConfig(batch_size=8, stages=("brightest",),
                                                        extra={"how_many": 4}),
                    cache_root=tmp_path / "c", progress=False, log=quiet)
    assert len(cache.table("brightest")) == 4 and cache.stage_record("brightest")["params"] == {"how_many": 4}
    assert cache.path("brightest").name == "brightest.parquet"  # named by the store, not the stage
    assert missing_hint("R", "brightest") == "`streetlens analyze R --stages brightest`"
    assert missing_hint("R", "reliability") == "`streetlens reliability R`"
    assert missing_hint("R", "top_channels") == "`streetlens analyze R --stages channels`"


def test_an_interrupted_stage_resumes_only_with_the_same_settings(tiny_run, tmp_path):
    """A stage killed half-way keeps its partial work for a rerun with the same settings,
    and drops it for other settings (no page mixing pictures of two settings)."""
    from PIL import Image

    cfg = AnalyzeConfig(batch_size=8, stages=("featvis",), n_concepts=3, featvis_steps=2, featvis_size=32,
                        featvis_channels=1)
    cache = analyze(tiny_run.path, config=cfg, cache_root=tmp_path, progress=False, log=quiet)
    record = cache.stage_record("featvis")
    picture = cache.featvis_path("concept", 0)
    red = Image.new("RGB", (32, 32), (255, 0, 0))
    for fingerprint, kept in ((record["fingerprint"], True), ("other settings", False)):
        red.save(picture)  # what an interrupted run left behind
        cache.start_stage("featvis", fingerprint=fingerprint, params=record["params"])
        cache = analyze(tiny_run.path, config=cfg, cache_root=tmp_path, progress=False, log=quiet)
        with Image.open(picture) as im:
            assert (np.asarray(im.convert("RGB")) == (255, 0, 0)).all() == kept, fingerprint
        assert cache.stage_done("featvis")
    picture.write_bytes(b"not a png")  # a broken picture is rendered again, not a crash
    cache.start_stage("featvis", fingerprint=record["fingerprint"], params=record["params"])
    analyze(tiny_run.path, config=cfg, cache_root=tmp_path, progress=False, log=quiet)
    with Image.open(picture) as im:
        assert im.size == (32, 32)


def test_another_dataset_gets_its_own_cache_and_the_runs_own_stays(tiny_run, tiny_dataset, tmp_path):
    import shutil

    from analysis.data.dataset import Dataset

    own = analyze(tiny_run.path, config=FAST, cache_root=tmp_path, progress=False, log=quiet)
    before = own.manifest_path.read_text()
    other = Dataset(tmp_path / "data" / "crawl")
    shutil.copytree(tiny_dataset.root, other.root)
    df = other.read()
    other.write(df[df["class"] != "seoul"].reset_index(drop=True))  # a different dataset
    messages = []
    foreign = analyze(tiny_run.path, config=FAST, cache_root=tmp_path, dataset=str(other.root), progress=False,
                      log=messages.append)
    assert foreign.root == tmp_path / f"{tiny_run.name}@crawl"
    assert "its analysis goes to" in messages[0] and "own analysis stays as it is" in messages[0]
    assert len(foreign.samples()) == len(other.usable()) < len(own.samples())
    assert own.manifest_path.read_text() == before  # untouched


def test_a_moved_dataset_keeps_the_runs_own_cache(tiny_run, tiny_dataset, tmp_path):
    import shutil

    own = analyze(tiny_run.path, config=FAST, cache_root=tmp_path, progress=False, log=quiet)
    moved = tmp_path / "elsewhere" / "ds"
    shutil.copytree(tiny_dataset.root, moved)
    again = analyze(tiny_run.path, config=FAST, cache_root=tmp_path, dataset=str(moved), progress=False, log=quiet)
    assert again.root == own.root


def test_run_at_dataset_names_that_analysis_in_the_cli(tiny_run, tiny_dataset, tmp_path):
    """`streetlens analyze RUN@DATASET` resumes the analysis made on that dataset, and the
    commands that read an analysis (concepts list …) accept the same name."""
    import shutil

    from click.testing import CliRunner

    from analysis.cli import main
    from analysis.data.dataset import Dataset

    crawl = Dataset(tmp_path / "data" / "crawl")
    shutil.copytree(tiny_dataset.root, crawl.root)
    df = crawl.read()
    crawl.write(df[df["class"] != "seoul"].reset_index(drop=True))
    models = str(Path(tiny_run.path).parent)
    cli = CliRunner()
    first = cli.invoke(main, ["analyze", tiny_run.name, "--models-root", models, "--cache-root", str(tmp_path / "c"),
                              "--dataset", str(crawl.root), "--stages", "forward"])
    assert first.exit_code == 0, first.output
    again = cli.invoke(main, ["analyze", f"{tiny_run.name}@crawl", "--models-root", models,
                              "--cache-root", str(tmp_path / "c"), "--stages", "forward"])
    assert again.exit_code == 0, again.output
    assert "forward    cached" in again.output
    assert not (tmp_path / "c" / tiny_run.name).exists()  # the run's own analysis was never touched
