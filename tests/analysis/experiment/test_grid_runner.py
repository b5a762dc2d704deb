"""The experiment grid: names, validation, saving, and resumable training (a run that
finished is never trained again; an interrupted grid keeps what finished)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.experiment import runner
from analysis.experiment.grid import Cell, Experiment, ExperimentError, list_experiments, parse_list
from analysis.store import RunFiles
from analysis.train.runs import list_runs

TRAIN = {"epochs": 2, "batch_size": 8, "cache_precision": "fp32", "train_precision": "fp32"}


def test_cells_names_and_order():
    exp = Experiment("e", "ds", ("b1", "b2"), ("transfer", "svm"), fractions=(0.5, 1.0), seeds=(0, 1))
    cells = exp.cells()
    assert len(cells) == 2 * 2 * 2 * 2 and len(set(exp.run_names())) == 16
    assert all(c.fraction == 1.0 for c in cells[:8])  # the comparison table's runs first
    assert Cell("b1", "svm", 0.25, 2).run_name("e") == "e-b1-svm-f025-s2"


@pytest.mark.parametrize("kw, message", [
    ({"modes": ("transfer", "bogus")}, "unknown mode bogus"),
    ({"fractions": (0.0,)}, "fractions must be in"),
    ({"seeds": (1, 1)}, "seeds repeat"),
    ({"backbones": ()}, "at least one of backbones"),
    ({"name": "../x"}, "experiment name"),
])
def test_bad_grids_are_one_line_errors(kw, message):
    base = dict(name="e", dataset="ds", backbones=("b",), modes=("transfer",))
    with pytest.raises(ExperimentError, match=message):
        Experiment(**{**base, **kw})
    with pytest.raises(ExperimentError, match="comma-separated"):
        parse_list("0.1,x", float, "fractions")


def test_save_load_and_list(tmp_path):
    exp = Experiment("e", "ds", ("b",), ("transfer",), seeds=(0,), train={"epochs": 3})
    exp.save(tmp_path)
    assert Experiment.load(tmp_path, "e") == exp
    assert [e.name for e in list_experiments(tmp_path)] == ["e"]
    assert list_runs(tmp_path) == []  # the experiments folder is not a run
    (tmp_path / "experiments" / "broken.json").write_text("{")
    assert [e.name for e in list_experiments(tmp_path)] == ["e"]
    with pytest.raises(ExperimentError, match="known: broken, e|known: e"):
        Experiment.load(tmp_path, "nope")


def _exp(tiny_dataset, **kw):
    return Experiment(**{"name": "grid", "dataset": str(tiny_dataset.root), "backbones": ("tiny_cnn",),
                         "modes": ("transfer", "finetune"), "fractions": (1.0,), "seeds": (0, 1),
                         "train": TRAIN, **kw})


def test_interrupted_grid_keeps_finished_runs_and_resumes_without_duplicates(tiny_dataset, tmp_path, monkeypatch):
    models = tmp_path / "models"
    exp = _exp(tiny_dataset)
    real_train, calls = runner.train, []

    def interrupted(config, progress=True):
        calls.append(config.name)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the third run
        return real_train(config, progress=False)

    monkeypatch.setattr(runner, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment(exp, models_root=models, cache_root=tmp_path / "cache", progress=False,
                              log=lambda m: None)
    kept = sorted(r.name for r in list_runs(models))
    assert kept == sorted(calls[:2])
    assert not [p for p in models.iterdir() if p.name.startswith(".")]  # no half-written run folder

    calls.clear()
    result = runner.run_experiment(exp, models_root=models, cache_root=tmp_path / "cache", progress=False,
                                   log=lambda m: None)
    assert sorted(result.done) == kept and len(result.trained) == 2 and sorted(calls) == sorted(result.trained)
    assert sorted(r.name for r in list_runs(models)) == sorted(exp.run_names())
    info = json.loads(RunFiles(models / exp.run_names()[0]).info.read_text())
    assert info["config"]["extra"]["experiment"] == "grid"
    # everything finished: a third call trains nothing
    calls.clear()
    assert runner.run_experiment(exp, models_root=models, cache_root=tmp_path / "cache", progress=False,
                                 log=lambda m: None).trained == [] and calls == []


def test_a_foreign_run_under_a_grid_name_is_refused_not_overwritten(tiny_dataset, tiny_run, tmp_path):
    import shutil

    models = tmp_path / "models"
    exp = _exp(tiny_dataset, seeds=(0,), modes=("finetune",))
    target = models / exp.run_names()[0]
    shutil.copytree(tiny_run.path, target)  # a run trained outside the experiment
    before = RunFiles(target).info.read_text()
    with pytest.raises(ExperimentError, match="already exists and is not this experiment"):
        runner.run_experiment(exp, models_root=models, cache_root=tmp_path / "cache", progress=False,
                              log=lambda m: None)
    assert RunFiles(target).info.read_text() == before


def test_the_same_name_on_another_dataset_is_refused(tiny_dataset, tmp_path):
    models = tmp_path / "models"
    Experiment("grid", "other", ("tiny_cnn",), ("transfer",)).save(models)
    with pytest.raises(ExperimentError, match="is on dataset 'other'"):
        runner.run_experiment(_exp(tiny_dataset), models_root=models, progress=False, log=lambda m: None)
    with pytest.raises(ExperimentError, match="unknown training settings: bogus"):
        runner.run_experiment(_exp(tiny_dataset, name="g2", train={"bogus": 1}), models_root=models,
                              progress=False, log=lambda m: None)
    assert not (Path(models) / "g2").exists()
