"""``streetlens data scores`` and ``data curate``: curation scores and automatic passes."""

from __future__ import annotations

import click

from analysis.cli.common import (
    data_root_option,
    dataset_option,
    models_root_option,
    open_dataset,
    user_errors,
)


@click.command("scores")
@dataset_option
@data_root_option
@click.option("--street-categories", default=None, metavar="NAME,NAME",
              help="Places365 scenes that count as a street [default: "
                   "analysis.data.scores.STREET_CATEGORIES: street, alley, downtown, …].")
@click.option("--run", "run_name", default=None,
              help="Also score how strongly this trained run disputes each label.")
@models_root_option
@click.option("--batch-size", default=32, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--force", is_flag=True, help="Recompute every image, not only new ones.")
@click.option("--no-progress-bar", is_flag=True, help="No tqdm bar (background jobs).")
@user_errors
def data_scores(dataset_name, data_root, street_categories, run_name, models_root, batch_size,
                device, force, no_progress_bar):
    """Street / outlier (/ model dispute) scores per image, for the Curate page's order."""
    from analysis.curate.scene import places365_scorer
    from analysis.curate.scoring import compute_scores
    from analysis.nets.device import choose_device

    cats = [c.strip() for c in street_categories.split(",") if c.strip()] if street_categories else None
    report = compute_scores(open_dataset(dataset_name, data_root),
                            places365_scorer(device=choose_device(device)),
                            street_categories=cats, batch_size=batch_size, force=force,
                            run=run_name, models_root=models_root, progress=not no_progress_bar)
    click.echo("\n".join(report.lines()))


@click.command("curate")
@dataset_option
@data_root_option
@click.option("--reject-below", type=float, default=None, metavar="SCORE",
              help="Reject unreviewed images whose street score is below SCORE.")
@click.option("--reject-above", type=float, default=None, metavar="SCORE",
              help="Reject unreviewed images whose outlier (or dispute) score is above SCORE.")
@click.option("--score", type=click.Choice(["street", "outlier", "dispute"]), default=None,
              help="Which score the threshold applies to [default: street for --reject-below, "
                   "outlier for --reject-above].")
@click.option("--class", "cls", default=None, help="Only this class [default: all].")
@click.option("--dry-run", is_flag=True, help="List what would be rejected; change nothing.")
@click.option("--undo", "undo_n", type=int, is_flag=False, flag_value=1, default=None,
              metavar="[LAST_N]", help="Undo the last LAST_N decisions (default 1); with "
                                       "--all-auto every automatic pass.")
@click.option("--all-auto", is_flag=True, help="With --undo: undo every automatic pass.")
@click.option("--log", "show_log", is_flag=True, help="Show the recent decisions.")
@user_errors
def data_curate(dataset_name, data_root, reject_below, reject_above, score, cls, dry_run, undo_n,
                all_auto, show_log):
    """First automatic curation pass by score, logged and reversible (--undo)."""
    from analysis.data import curation

    ds = open_dataset(dataset_name, data_root)
    ds.read()  # one clear line when it is not a dataset
    if show_log:
        history = curation.actions(ds)
        undone = curation.undone_actions(history)
        for a in history[-30:]:
            mark = " (undone)" if a.id in undone else ""
            click.echo(f"{a.id}  {a.time[:19]}  {a.who:<12} {a.source:<5} {a.describe()}{mark}")
        if not history:
            click.echo("no decisions yet")
        return
    if undo_n is not None or all_auto:
        if reject_below is not None or reject_above is not None:
            raise click.UsageError("--undo cannot be combined with --reject-below/--reject-above")
        done = curation.undo(ds, last=None if all_auto else (undo_n or 1), all_auto=all_auto)
        if not done:
            click.echo("nothing to undo")
        for a in done:
            extra = f", {len(a.skipped)} left alone (decided again since)" if a.skipped else ""
            click.echo(f"undid {a.undoes}: {a.n} image(s) restored{extra}")
        return
    if reject_below is None and reject_above is None:
        raise click.UsageError("give --reject-below SCORE, --reject-above SCORE, --undo or --log")
    score = score or ("street" if reject_below is not None else "outlier")
    action, hit = curation.auto_reject(ds, score=score, below=reject_below, above=reject_above,
                                       cls=cls, dry_run=dry_run)
    for row in hit.head(15).itertuples(index=False):
        click.echo(f"  {row.path:<40} {score} {getattr(row, score):.3f}  ({row.scene_top})")
    if len(hit) > 15:
        click.echo(f"  … {len(hit) - 15} more")
    if dry_run:
        click.echo(f"dry run: would reject {len(hit)} unreviewed image(s)")
    elif action is None:
        click.echo("no unreviewed image passes that threshold: nothing rejected")
    else:
        click.echo(f"rejected {action.n} image(s) (action {action.id}); undo with "
                   f"`streetlens data curate --dataset {dataset_name} --undo`")
