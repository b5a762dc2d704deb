"""``streetlens train``, ``runs``, ``predict`` and ``weights``: models and training."""

from __future__ import annotations

from pathlib import Path

import click

from analysis.cli.common import (
    cache_root_option,
    data_root_option,
    dataset_option,
    models_root_option,
    user_errors,
)


@click.command("train")
@dataset_option
@data_root_option
@models_root_option
@click.option("--backbone", required=True, help="Backbone name (see `streetlens weights list`).")
@click.option("--mode", type=click.Choice(["transfer", "finetune", "scratch", "svm"]), required=True)
@click.option("--weights", default=None, help="Weight source [default: pretrained; scratch: random].")
@click.option("--epochs", type=int, default=None, help="[default: the mode's]")
@click.option("--patience", type=int, default=None, help="Early-stopping patience [default: the mode's].")
@click.option("--lr", type=float, default=None, help="Learning rate [default: the mode's].")
@click.option("--batch-size", default=32, show_default=True)
@click.option("--loss-weights", default="1.0,0.5", show_default=True, help="city,group loss weights.")
@click.option("--hidden", default=256, show_default=True, help="Head MLP width.")
@click.option("--dropout", default=0.5, show_default=True)
@click.option("--augment", default="none", show_default=True,
              type=click.Choice(["none", "light", "strong", "light+flip", "strong+flip"]),
              help="Augmentation (flip mirrors the driving side, so it is opt-in).")
@click.option("--views", default=1, show_default=True,
              help="Augmented views cached per training image (SVM: augmented copies).")
@click.option("--no-cache", is_flag=True, help="Run the frozen layers every epoch instead of caching.")
@click.option("--cache-precision", default="auto", show_default=True,
              type=click.Choice(["auto", "fp32", "bf16"]),
              help="Precision of the trunk pass that fills the cache (auto: bf16 where the "
                   "hardware has it natively, else fp32).")
@click.option("--train-precision", default="auto", show_default=True,
              type=click.Choice(["auto", "fp32", "bf16"]),
              help="Training forward/backward of the trained layers (auto: bf16 autocast where "
                   "native; weights and evaluation stay fp32).")
@click.option("--image-size", type=int, default=None, help="Input size [default: the backbone's].")
@click.option("--seed", default=0, show_default=True)
@click.option("--train-fraction", default=1.0, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="Train on this share of the training images (stratified per city, drawn with the seed).")
@click.option("--name", default=None, help="Run name [default: <dataset>-<backbone>-<mode>].")
@click.option("--device", default="auto", show_default=True)
@user_errors
def train_cmd(dataset_name, data_root, models_root, backbone, mode, weights, epochs, patience,
              lr, batch_size, loss_weights, hidden, dropout, augment, views, no_cache,
              cache_precision, train_precision, image_size, seed, train_fraction, name, device):
    """Train a two-head (city + group) classifier: transfer, finetune, scratch or svm."""
    from analysis.train.trainer import TrainConfig, train

    try:
        lw = tuple(float(x) for x in loss_weights.split(","))
        assert len(lw) == 2
    except (ValueError, AssertionError):
        raise click.BadParameter("expected two numbers like 1.0,0.5", param_hint="--loss-weights")
    cfg = TrainConfig(
        dataset=dataset_name, backbone=backbone, mode=mode, weights=weights, epochs=epochs,
        patience=patience, lr=lr, batch_size=batch_size, loss_weights=lw, hidden=hidden,
        dropout=dropout, augment=augment, views=views, cache=not no_cache,
        cache_precision=cache_precision, train_precision=train_precision, image_size=image_size,
        seed=seed, train_fraction=train_fraction, name=name, device=device,
        data_root=str(data_root) if data_root else None,
        models_root=str(models_root) if models_root else None,
    )
    run = train(cfg)
    m = run.info["metrics"]
    click.echo(f"run {run.name} → {run.path}")
    for split in ("val", "test"):
        click.echo(f"  {split}: city acc {m[split]['city']['accuracy']:.3f} "
                   f"(macro-F1 {m[split]['city']['macro_f1']:.3f}), "
                   f"group acc {m[split]['group']['accuracy']:.3f}")
    t = run.info["timings"]
    click.echo(f"  time: {t['total_s']:.1f} s (trunk cache {t['cache_s']:.1f} s), "
               f"best epoch {run.info['best_epoch']}")


@click.command("runs")
@models_root_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--all", "show_all", is_flag=True, help="Also list every run of every experiment.")
@user_errors
def runs_cmd(models_root, as_csv, show_all):
    """Compare the runs: mode × backbone, both heads, val and test (the study's table).
    The runs of an experiment are summarised in one line each (`--all` lists them)."""
    from analysis.train.runs import comparison_table, list_runs

    table = comparison_table(list_runs(models_root))
    if table.empty:
        click.echo("no runs yet: train one with `streetlens train --dataset D --backbone B --mode M`")
        return
    grouped = table["experiment"].notna()
    shown = table if show_all else table[~grouped].drop(columns="experiment")
    if as_csv:
        click.echo(shown.to_csv(index=False), nl=False)
        return
    if not shown.empty:
        click.echo(shown.to_string(index=False, float_format="%.3f"))
    if not show_all:
        for name, g in table[grouped].groupby("experiment", sort=True):
            best = g.loc[g["test_city"].idxmax()]
            click.echo(f"experiment {name}: {len(g)} runs on {g['dataset'].iat[0]}, best test city accuracy "
                       f"{best['test_city']:.3f} ({best['run']}); the table: `streetlens experiment "
                       f"--dataset {g['dataset'].iat[0]} --name {name} --show`")


@click.command("predict")
@click.argument("run")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@models_root_option
@cache_root_option
@click.option("--top", default=3, show_default=True)
@user_errors
def predict_cmd(run, images, models_root, cache_root, top):
    """Classify image files with a trained RUN; warn above the prediction of a photo that
    looks unlike any training photo (needs the run's `ood` analysis stage)."""
    from analysis.precompute.ood_check import predict_with_ood
    from analysis.train.runs import open_run

    result = predict_with_ood(open_run(run, models_root), images, top=top, cache_root=cache_root)
    if result.note:
        click.echo(f"note: {result.note}")
    for row in result.table.to_dict("records"):
        if isinstance(row.get("error"), str):
            click.echo(f"{row['file']}: skipped, {row['error']}")
            continue
        if row.get("ood_flagged") is True:
            click.echo(f"WARNING {row['file']}: {row['ood_message']}")
        click.echo(f"{row['file']}: {row['city']} ({row['p']:.2f}), {row['group']} "
                   f"({row['p_group']:.2f})  top: {row['top']}")


@click.group()
def weights() -> None:
    """Pretrained weight files: list what is present, fetch what is missing."""


@weights.command("list")
@click.option("--root", type=click.Path(path_type=Path), default=None, help="[default: models/weights]")
def weights_list(root):
    """Weight sources, whether each is present, and where it comes from."""
    from analysis.nets.registry import get_backbone, list_backbones
    from analysis.nets.weights import list_weights

    for row in list_weights(root):
        mark = "✓" if row["present"] else "·"
        click.echo(f"{mark} {row['name']:<28} {row['source']}")
    click.echo("\nbackbones: " + ", ".join(
        f"{b} ({'/'.join(get_backbone(b).weight_sources)})" for b in list_backbones()))


@weights.command("fetch")
@click.argument("name")
@click.option("--file", "file", type=click.Path(path_type=Path), default=None,
              help="Use this local copy (verified by sha256) instead of downloading.")
@click.option("--root", type=click.Path(path_type=Path), default=None, help="[default: models/weights]")
def weights_fetch(name, file, root):
    """Provide weight file NAME: offline fallbacks first, then a verified download."""
    from analysis.nets.weight_sources import WeightsError
    from analysis.nets.weights import fetch

    try:
        path = fetch(name, file=file, root=root)
    except (WeightsError, KeyError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from exc
    click.echo(str(path))
