"""``streetlens experiment``: the study's grid of runs on any dataset, resumable."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from analysis.cli.common import cache_root_option, data_root_option, dataset_option, models_root_option, user_errors


def _print_results(models_root: Path, name: str, as_csv: bool) -> None:
    from analysis.experiment import results

    exp, table, summary, sig = results.load(models_root, name)
    if as_csv:
        click.echo(summary.to_csv(index=False), nl=False)
        return
    click.echo(f"\nexperiment {exp.name} on {exp.dataset}: {len(table)} of {len(exp.cells())} runs finished")
    click.echo(f"{'backbone':<22}{'mode':<10}{'fraction':>9}{'train imgs':>11}{'seeds':>6}"
               f"{'test city acc (95% across seeds)':>34}{'group':>7}")
    for r in summary.itertuples():
        ci = f"[{r.low:.3f}, {r.high:.3f}]" if r.seeds > 1 else "(one seed)"
        n_train = "" if r.n_train is None else str(r.n_train)
        click.echo(f"{r.backbone:<22}{r.mode:<10}{r.fraction:>9.2f}{n_train:>11}{r.seeds:>6}"
                   f"{f'{r.test_city:.3f} {ci}':>34}{r.test_group:>7.3f}")
    if not sig.empty:
        click.echo(f"\npaired on {int(sig['images'].iat[0])} test images (correctness averaged over seeds; "
                   "permutation test, Holm-adjusted):")
        for r in sig.itertuples():
            click.echo(f"  {r.b} − {r.a}: {r.difference:+.3f} [{r.low:+.3f}, {r.high:+.3f}]  p={r.p:.4f} "
                       f"p_holm={r.p_holm:.4f}  McNemar<0.05 in {r.seeds_significant} seeds"
                       + ("  significant" if r.significant else ""))
    click.echo("\n" + results.verdict(summary, sig))


@click.command("experiment")
@dataset_option
@click.option("--backbones", default=None, help="Comma-separated backbones, e.g. efficientnet_lite0,resnet18_places365 "
              "(required for a new experiment; default: the saved grid's).")
@click.option("--modes", default=None, help="Comma-separated modes among svm,transfer,finetune,scratch "
              "[default: the saved grid's, else transfer,finetune].")
@click.option("--fractions", default=None, help="Shares of the training images, e.g. 0.1,0.25,0.5,1.0 [default: 1.0].")
@click.option("--seeds", default=None, help="Comma-separated seeds [default: 0,1,2].")
@click.option("--name", default=None, help="Experiment name [default: the dataset's name].")
@click.option("--epochs", type=int, default=None, help="Epochs of every run [default: each mode's].")
@click.option("--show", is_flag=True, help="Only print the table of what is finished; train nothing.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the summary table as CSV.")
@data_root_option
@models_root_option
@cache_root_option
@user_errors
def experiment_cmd(dataset_name, backbones, modes, fractions, seeds, name, epochs, show, as_csv,
                   data_root, models_root, cache_root):
    """Train the missing runs of a grid (backbones × modes × fractions × seeds) on one
    dataset, then print the comparison table: accuracy with intervals across seeds and
    which differences are significant. Rerun the same command to resume."""
    from analysis.experiment.grid import Experiment, ExperimentError, parse_list
    from analysis.experiment.runner import run_experiment
    from analysis.store import default_cache_root, default_models_root

    models_root = Path(models_root) if models_root else default_models_root()
    cache_root = Path(cache_root) if cache_root else default_cache_root()
    name = name or Path(dataset_name).name
    try:
        saved = Experiment.load(models_root, name)
    except ExperimentError:
        saved = None
    if show:
        if saved is None:
            raise ExperimentError(f"no experiment {name!r} yet: run `streetlens experiment --dataset {dataset_name} "
                                  "--backbones …` first")
        _print_results(models_root, name, as_csv)
        return
    if backbones is None and saved is None:
        raise click.UsageError("a new experiment needs --backbones (e.g. efficientnet_lite0,resnet18_places365)")
    exp = Experiment(
        name=name, dataset=dataset_name,
        backbones=parse_list(backbones, what="backbones") if backbones else saved.backbones,
        modes=parse_list(modes, what="modes") if modes else (saved.modes if saved else ("transfer", "finetune")),
        fractions=parse_list(fractions, float, "fractions") if fractions else (saved.fractions if saved else (1.0,)),
        seeds=parse_list(seeds, int, "seeds") if seeds else (saved.seeds if saved else (0, 1, 2)),
        train={**(saved.train if saved else {}), **({"epochs": epochs} if epochs else {})},
    )
    from analysis.nets.registry import get_backbone

    for b in exp.backbones:
        get_backbone(b)  # an unknown backbone: one line before anything trains
    try:
        result = run_experiment(exp, models_root=models_root, data_root=data_root, cache_root=cache_root,
                                log=click.echo)
    except KeyboardInterrupt:
        from analysis.experiment.results import experiment_runs

        finished = len(experiment_runs(models_root, exp.name))
        click.echo(f"\ninterrupted: {finished} of {len(exp.cells())} runs of {exp.name} are finished and kept; "
                   "run the same command again to train the rest", err=True)
        sys.exit(130)
    click.echo(f"trained {len(result.trained)} runs, {len(result.done)} were already finished")
    _print_results(models_root, exp.name, as_csv)
