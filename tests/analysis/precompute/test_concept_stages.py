"""The concept stages end to end on a tiny annotated demo: their tables agree with the
functions they summarise, names come from the cue masks, users' names follow their
concepts, and ``--redo`` / ``--set`` reach them from the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.explain.concepts.effect import class_effects
from analysis.explain.concepts.portrait import build_portrait, resolve_names
from analysis.explain.concepts.stability import refit_with
from analysis.precompute import AnalyzeConfig, analyze
from analysis.precompute.stages.concept_names import RENAME_MATCH, carry_over_names
from analysis.precompute.stages.ood import load_calibration
from analysis.store import RunCache

CONCEPT_STAGES = ("concept_effects", "concept_stability", "concept_profiles", "concept_names", "ood")
SMALL = dict(batch_size=16, n_concepts=4, top_patches=4,
             extra={"stability_refits": 2, "stability_rows": 2000, "effect_bootstrap": 200})


@pytest.fixture(scope="module")
def concept_cache(annotated_run):
    run, root = annotated_run
    cache = analyze(run.path, config=AnalyzeConfig(stages=CONCEPT_STAGES, **SMALL),
                    cache_root=root / "concepts", progress=False, log=lambda *_: None)
    return run, cache


def test_effect_tables_summarise_the_stored_removal_effects(concept_cache):
    run, cache = concept_cache
    samples = cache.samples()
    probs = cache.array("concept_removal_probs")
    classes = list(run.labels.classes)
    assert probs.shape == (len(samples), 4, len(classes))
    test = samples["split"].to_numpy() == "test"
    again = class_effects(np.asarray(probs[test], np.float64), samples["y_class"].to_numpy()[test], classes, 200, 0)
    table = cache.table("concept_effects")
    got = table[table["split"] == "test"].reset_index(drop=True)
    np.testing.assert_allclose(got["effect"], again["effect"], atol=1e-6)
    assert set(table["split"]) == {"val", "test"}
    curves = cache.table("concept_curves")
    assert set(curves["curve"]) == {"deletion", "insertion"} and set(curves["order"]) == {"ranked", "random"}
    assert curves.groupby(["target", "curve", "order"]).size().eq(5).all()  # steps 0..K
    comp = cache.table("concept_completeness")
    assert "all" in set(comp["target"]) and comp["concept_accuracy"].between(0, 1).all()


def test_stability_profiles_and_ood(concept_cache):
    _, cache = concept_cache
    st = cache.table("concept_stability")
    assert st["refits"].eq(2).all() and st["came_back"].between(0, 2).all()
    assert (st["stable"] == (st["stability"] >= 0.6)).all()
    prev = cache.table("concept_prevalence")
    assert prev["share"].between(0, 1).all() and prev["where"].str.len().gt(0).all()
    assert cache.array("concept_class_maps").shape[:2] == (4, 3)
    cal = load_calibration(cache)
    ood = cache.table("ood")
    assert cal.calibrated_on in ("val", "test", "all") and len(ood) == len(cache.samples())
    assert (ood["flagged"] == (ood["score"] > cal.threshold)).all()


def test_demo_concepts_are_named_after_cues(concept_cache):
    _, cache = concept_cache
    cand = cache.table("concept_name_candidates")
    assert "cue" in set(cand["source"])
    assert cand.groupby("concept")["automatic"].sum().eq(1).all()
    per_city = cache.table("concept_city_cues")
    assert set(per_city["target"]) == {"london", "paris", "tokyo"}
    assert cache.manifest["stages"]["concept_names"]["scenes"].startswith("no scene names")


def test_portraits_build_from_the_tables(concept_cache):
    run, cache = concept_cache
    eff = cache.table("concept_effects")
    names = resolve_names(cache.table("concept_name_candidates"), cache.names().names(), 4)
    for city in run.labels.classes:
        p = build_portrait(city, eff[eff["split"] == "test"], cache.table("concept_stability"),
                           cache.table("concept_prevalence"), names, cache.table("concept_completeness"))
        assert p.target == city and 1 <= len(p.sentences) <= 3
        assert all(c.stable for c in p.cards)


def test_names_follow_their_concepts_after_a_refit(tmp_path):
    book = RunCache(tmp_path / "r").names()
    e = np.eye(3)
    book.set(0, "domes", direction=e[0])
    book.set(1, "cabs", direction=e[1])
    book.set(2, "lanterns", direction=e[2])
    refit = np.array([e[1], e[0], [0.5, 0.5, 0.7]])  # 0 and 1 swapped; 2 changed beyond recognition
    assert np.cos(0) * 0.7 / np.linalg.norm([0.5, 0.5, 0.7]) < RENAME_MATCH
    assert carry_over_names(book, refit) == 3
    assert {k: v.name for k, v in book.names().items()} == {1: "domes", 0: "cabs"}
    assert carry_over_names(book, refit) == 0  # nothing changes a second time


def test_cli_redo_and_set(annotated_run, tmp_path):
    run, _ = annotated_run
    args = ["analyze", str(run.path), "--cache-root", str(tmp_path), "--stages", "concept_stability",
            "--concepts", "3", "--set", "stability_refits=1", "--set", "stability_rows=500"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    cache = RunCache.for_run(run.path.name, tmp_path)
    assert cache.table("concept_stability")["refits"].eq(1).all()
    same = CliRunner().invoke(main, args)
    assert "concept_stability cached" in " ".join(same.output.split())
    again = CliRunner().invoke(main, [*args, "--redo", "concept_stability"])
    assert again.exit_code == 0, again.output
    assert "concept_stability cached" not in " ".join(again.output.split())
    assert "concept refits" in again.output  # it ran
    bad = CliRunner().invoke(main, [*args, "--set", "oops"])
    assert bad.exit_code != 0 and "is not NAME=VALUE" in bad.output
    unknown = CliRunner().invoke(main, [*args, "--redo", "nonsense"])
    assert unknown.exit_code == 1 and "cannot redo unknown stage(s) nonsense" in unknown.output


def test_cli_sweep_reports_every_setting_and_refuses_an_impossible_k(annotated_run, tmp_path):
    run, _ = annotated_run
    args = ["concepts", "sweep", str(run.path), "--cache-root", str(tmp_path), "--images", "20", "--refits", "1"]
    ok = CliRunner().invoke(main, [*args, "--k", "2,3"])
    assert ok.exit_code == 0, ok.output
    lines = [line for line in ok.output.splitlines() if line.startswith(("block3", "block2"))]
    assert len(lines) == 4 and sum("← recommended" in line for line in lines) == 1
    assert "recommended: " in ok.output
    table = RunCache.for_run(run.path.name, tmp_path).table("concept_sweep")
    assert table["recommended"].sum() == 1
    bad = CliRunner().invoke(main, [*args, "--k", "3,500"])
    assert bad.exit_code == 1 and "k=500 is more than the" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    wrong = CliRunner().invoke(main, [*args, "--layers", "nope"])
    assert wrong.exit_code == 1 and "no layer 'nope'" in wrong.output


def test_cli_concepts_list_and_name(concept_cache, annotated_run):
    run, cache = concept_cache
    args = ["--cache-root", str(cache.root.parent)]
    named = CliRunner().invoke(main, ["concepts", "name", str(run.path), "1", "<i>red</i> lanterns", *args])
    assert named.exit_code == 0 and "named '<i>red</i> lanterns'" in named.output
    listed = CliRunner().invoke(main, ["concepts", "list", str(run.path), *args])
    assert "<i>red</i> lanterns" in listed.output and "(named)" in listed.output and "(automatic: " in listed.output
    hostile = CliRunner().invoke(main, ["concepts", "name", str(run.path), "1", "x" * 10_000, *args])
    assert hostile.exit_code == 1 and "at most 60 characters" in hostile.output
    cache.names().path.write_text("{not json")
    broken = CliRunner().invoke(main, ["concepts", "name", str(run.path), "2", "domes", *args])
    assert broken.exit_code == 1 and "is not valid JSON" in broken.output
    assert cache.names().path.read_text() == "{not json"
    cache.names().path.unlink()
    portrait = CliRunner().invoke(main, ["portrait", str(run.path), "tokyo", *args])
    assert portrait.exit_code == 0 and portrait.output.startswith("tokyo: ")


def test_concepts_streamed_with_minibatch_nmf(annotated_run, tmp_path):
    """``concept_fit="minibatch"``: the basis comes from the stream, its maps and tables are
    written as usual, and the stability refits stream too."""
    run, _ = annotated_run
    config = AnalyzeConfig(stages=("concepts", "concept_stability"), concept_fit="minibatch", **SMALL)
    cache = analyze(run.path, config=config, cache_root=tmp_path, progress=False, log=lambda *_: None)
    components, info = cache.read_concept_basis()
    assert info["meta"]["fit"] == "minibatch" and info["meta"]["rows_fed"] > 0
    assert cache.manifest["stages"]["concepts"]["fit"] == "minibatch"
    assert cache.manifest["stages"]["concept_stability"]["fit"] == "minibatch"
    maps = cache.array("concept_maps")
    assert maps.shape[:2] == (len(cache.samples()), 4) and np.asarray(maps[:5]).min() >= 0
    assert len(cache.table("concept_stability")) == 4
    auto = AnalyzeConfig(stages=("concepts",), **SMALL)
    small = analyze(run.path, config=auto, cache_root=tmp_path / "auto", progress=False, log=lambda *_: None)
    assert small.read_concept_basis()[1]["meta"]["fit"] == "sketch"  # a small dataset: the sketched NMF
    refit = analyze(run.path, config=AnalyzeConfig(stages=("concept_stability",), **SMALL),
                    cache_root=tmp_path / "auto", progress=False, log=lambda *_: None)
    assert refit.manifest["stages"]["concept_stability"]["fit"] == "full"  # sketched concepts: plain refits
    assert refit_with("sketch") == "full" and refit_with("minibatch") == "minibatch" and refit_with("full") == "full"


def _importance_from_store(run, cache):
    """The concept × class table recomputed from the stored maps and gradients with the
    library function (two separate reads), the oracle of the stage's one fused pass."""
    from analysis.explain.concepts.factorize import concept_class_importance
    from analysis.precompute.stages.concepts import load_basis

    basis, kc = load_basis(cache), len(run.labels.classes)
    y, _ = run.labels.encode(cache.samples())
    maps, grads = cache.array("concept_maps"), cache.array("gradients")
    chunks = [(np.asarray(maps[a:a + 5], np.float32), np.asarray(grads[a:a + 5, :kc], np.float32), y[a:a + 5])
              for a in range(0, len(maps), 5)]
    return concept_class_importance(chunks, basis, kc)[0]


def test_concept_stage_importance_resumes_and_equals_the_library(annotated_run, tmp_path, monkeypatch):
    """The concepts stage computes the importance in the pass that writes the maps; killed
    half way through the maps, the rerun reads the stored ones back and gives the table of
    an uninterrupted run, which equals ``concept_class_importance`` over the stored arrays."""
    from analysis.precompute.stages import concepts as stage

    run, _ = annotated_run
    config = AnalyzeConfig(stages=("concepts",), shard_rows=8, **{**SMALL, "batch_size": 8})
    clean = analyze(run.path, config=config, cache_root=tmp_path / "clean", progress=False, log=lambda *_: None)
    table = clean.table("concept_importance")
    city = table[table["head"] == "city"].pivot(index="concept", columns="target", values="importance")
    np.testing.assert_allclose(city[list(run.labels.classes)].to_numpy(), _importance_from_store(run, clean),
                               rtol=1e-6, atol=1e-9)

    real, calls = stage.concept_maps, []

    def dying(basis, acts):
        if len(calls) == 1:  # the first 128-image chunk is written, the second dies
            raise KeyboardInterrupt
        calls.append(len(acts))
        return real(basis, acts)

    monkeypatch.setattr(stage, "batched", lambda n, size, start=0: [(a, min(n, a + 8)) for a in range(start, n, 8)])
    monkeypatch.setattr(stage, "concept_maps", dying)
    with pytest.raises(KeyboardInterrupt):
        analyze(run.path, config=config, cache_root=tmp_path / "c", progress=False, log=lambda *_: None)
    monkeypatch.setattr(stage, "concept_maps", lambda basis, acts: calls.append(len(acts)) or real(basis, acts))
    calls.clear()
    resumed = analyze(run.path, config=config, cache_root=tmp_path / "c", progress=False, log=lambda *_: None)
    assert sum(calls) == len(clean.samples()) - 8  # the first shard was read back, not recomputed
    np.testing.assert_array_equal(resumed.array("concept_maps")[:], clean.array("concept_maps")[:])
    import pandas as pd

    pd.testing.assert_frame_equal(resumed.table("concept_importance"), table)
