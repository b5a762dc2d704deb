"""`streetlens experiment` end to end on the tiny dataset: the table, --show, resuming after
Ctrl-C with one line, and one-line errors for what a user can fix."""

from __future__ import annotations

from click.testing import CliRunner

from analysis.cli import main
from analysis.experiment import runner


def _args(tiny_dataset, tmp_path, *extra):
    return ["experiment", "--dataset", str(tiny_dataset.root), "--name", "g", "--models-root", str(tmp_path / "m"),
            "--cache-root", str(tmp_path / "c"), "--epochs", "2", *extra]


def test_experiment_trains_prints_the_table_and_resumes_after_ctrl_c(tiny_dataset, tmp_path, monkeypatch):
    real_train, calls = runner.train, []

    def interrupted(config, progress=True):
        calls.append(config.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train(config, progress=False)

    monkeypatch.setattr(runner, "train", interrupted)
    cli = CliRunner()
    args = _args(tiny_dataset, tmp_path, "--backbones", "tiny_cnn", "--modes", "transfer", "--seeds", "0,1")
    out = cli.invoke(main, args)
    assert out.exit_code == 130
    assert "interrupted: 1 of 2 runs of g are finished and kept; run the same command again" in out.output
    monkeypatch.setattr(runner, "train", lambda config, progress=True: real_train(config, progress=False))
    out = cli.invoke(main, _args(tiny_dataset, tmp_path))  # the saved grid: no need to repeat it
    assert out.exit_code == 0, out.output
    assert "experiment g: 2 runs, 1 finished, 1 to train" in out.output
    assert "trained 1 runs, 1 were already finished" in out.output
    assert "tiny_cnn              transfer" in out.output and "Best: tiny_cnn · transfer" in out.output
    show = cli.invoke(main, _args(tiny_dataset, tmp_path, "--show", "--csv"))
    assert show.exit_code == 0 and show.output.splitlines()[0].startswith("backbone,weights,mode,fraction,seeds")
    runs = cli.invoke(main, ["runs", "--models-root", str(tmp_path / "m")])
    assert runs.output.startswith("experiment g: 2 runs on ds, best test city accuracy")


def test_one_line_errors(tiny_dataset, tmp_path):
    cli = CliRunner()
    out = cli.invoke(main, _args(tiny_dataset, tmp_path))
    assert out.exit_code == 2 and "a new experiment needs --backbones" in out.output
    out = cli.invoke(main, _args(tiny_dataset, tmp_path, "--backbones", "nonet"))
    assert out.exit_code == 1 and out.output.count("\n") == 1 and "nonet" in out.output
    out = cli.invoke(main, _args(tiny_dataset, tmp_path, "--backbones", "tiny_cnn", "--fractions", "0.5,x"))
    assert out.exit_code == 1 and "cannot read fractions from '0.5,x'" in out.output
    out = cli.invoke(main, _args(tiny_dataset, tmp_path, "--show"))
    assert out.exit_code == 1 and "no experiment 'g' yet" in out.output
