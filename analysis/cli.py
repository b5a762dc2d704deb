"""The ``streetlens`` command line: one command per stage, each a thin wrapper around a
plain Python function (so everything here can be done from Python too).

Errors that a user can fix (bad folders, unknown classes, corrupt tables) end in one
clear line and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from analysis.classes import UnknownClassError
from analysis.data.dataset import Dataset, DatasetError, default_data_root


def is_user_error(exc: BaseException) -> bool:
    """Errors a user can fix: bad input, missing files or weights, unknown names."""
    if isinstance(exc, (DatasetError, UnknownClassError, FileNotFoundError, ValueError)):
        return True
    nets = sys.modules.get("analysis.nets.weights"), sys.modules.get("analysis.nets.registry")
    return (nets[0] is not None and isinstance(exc, nets[0].WeightsError)) or \
        (nets[1] is not None and isinstance(exc, nets[1].UnknownBackboneError))


def user_errors(func):
    """Turn the errors a user can fix into one-line CLI errors."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not is_user_error(exc) or os.environ.get("STREETLENS_DEBUG"):
                raise
            message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            raise click.ClickException(message.splitlines()[0] if message else type(exc).__name__) from exc

    return wrapper


def parse_group_options(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for text in values:
        name, sep, group = text.partition("=")
        if not sep or not name or not group:
            raise click.BadParameter(f"expected CLASS=GROUP, got {text!r}", param_hint="--group")
        out[name.strip()] = group.strip()
    return out


dataset_option = click.option(
    "--dataset", "dataset_name", required=True,
    help="Dataset name (a folder under --data-root) or a path.")
data_root_option = click.option(
    "--data-root", type=click.Path(path_type=Path), default=None,
    help="Folder holding named datasets [default: $STREETLENS_DATA or ./data].")


def open_dataset(name: str, data_root: Path | None) -> Dataset:
    return Dataset.open(name, data_root or default_data_root())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="streetlens")
def main() -> None:
    """streetlens: what makes a street look like Tokyo rather than Vancouver?"""


@main.group()
def data() -> None:
    """Build and inspect datasets (a folder per class + dataset.parquet)."""


@data.command("import")
@click.argument("src", type=click.Path(path_type=Path))
@dataset_option
@data_root_option
@click.option("--group", "group_opts", multiple=True, metavar="CLASS=GROUP",
              help="Group of a class that is not built in (repeatable); saved to classes.toml.")
@click.option("--group-pattern", default=None,
              help=r"Regex on file names whose 'group' match ties images to one split, "
                   r"e.g. '(?P<group>.+)_heading_\d+'.")
@click.option("--min-side", default=64, show_default=True, help="Smallest accepted side (px).")
@click.option("--max-megapixels", default=64.0, show_default=True,
              help="Larger images are refused as possible decompression bombs.")
@click.option("--dup-threshold", default=6, show_default=True,
              help="pHash distance below which two images are near-duplicates.")
@click.option("--no-crop", is_flag=True, help="Keep uniform borders (letterbox margins).")
@click.option("--fractions", default="0.7,0.15,0.15", show_default=True,
              help="train,val,test fractions for new images.")
@click.option("--seed", default=0, show_default=True)
@click.option("--licence", default="", help="Licence recorded for every imported image.")
@click.option("--workers", default=0, help="Decoding processes [default: cores, at most 4].")
@user_errors
def data_import(src, dataset_name, data_root, group_opts, group_pattern, min_side,
                max_megapixels, dup_threshold, no_crop, fractions, seed, licence, workers):
    """Import SRC (a folder per class) into a dataset: checked, cleaned, deduplicated, split."""
    from analysis.data.importer import ImportOptions, import_folder
    from analysis.data.split import parse_fractions

    opts = ImportOptions(
        min_side=min_side, max_pixels=int(max_megapixels * 1e6), crop_borders=not no_crop,
        dup_threshold=dup_threshold, group_pattern=group_pattern,
        fractions=parse_fractions(fractions), seed=seed, licence=licence, workers=workers,
    )
    report = import_folder(src, open_dataset(dataset_name, data_root),
                           groups=parse_group_options(group_opts), options=opts)
    click.echo("\n".join(report.lines()))


@data.command("synth")
@dataset_option
@data_root_option
@click.option("--per-class", default=100, show_default=True, help="Images per city.")
@click.option("--size", default=224, show_default=True, help="Image side in pixels.")
@click.option("--seed", default=0, show_default=True)
@click.option("--classes", default=None, help="Comma-separated subset of the ten cities.")
@click.option("--workers", default=0, help="Drawing processes [default: one per core]; "
              "the output is identical for any number.")
@user_errors
def data_synth(dataset_name, data_root, per_class, size, seed, classes, workers):
    """Draw procedural demo streets of the ten cities (no internet needed)."""
    from analysis.data.synthetic import synthesize_dataset

    report = synthesize_dataset(
        open_dataset(dataset_name, data_root), per_class=per_class, size=size, seed=seed,
        classes=classes.split(",") if classes else None, workers=workers or (os.cpu_count() or 1),
    )
    click.echo("\n".join(report.lines()))


@data.command("split")
@dataset_option
@data_root_option
@click.option("--fractions", default="0.7,0.15,0.15", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--group-pattern", default=None, help="Regex tying file names to one split.")
@user_errors
def data_split(dataset_name, data_root, fractions, seed, group_pattern):
    """Re-split a whole dataset (stratified, seeded, groups kept together)."""
    from analysis.data.split import parse_fractions, resplit
    from analysis.data.summary import count_table

    ds = open_dataset(dataset_name, data_root)
    df = resplit(ds, parse_fractions(fractions), seed, group_pattern)
    click.echo(count_table(df).to_string())


@data.command("summary")
@dataset_option
@data_root_option
@user_errors
def data_summary(dataset_name, data_root):
    """Counts per class × split, duplicates, rejects, curation state."""
    from analysis.data.summary import summarize

    click.echo(summarize(open_dataset(dataset_name, data_root)).text())


@data.command("sheet")
@dataset_option
@data_root_option
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder [default: <dataset>/sheets].")
@click.option("--per-class", default=48, show_default=True)
@click.option("--seed", default=0, show_default=True)
@user_errors
def data_sheet(dataset_name, data_root, out, per_class, seed):
    """Write a contact-sheet PNG per class."""
    from analysis.data.sheet import write_sheets

    for path in write_sheets(open_dataset(dataset_name, data_root), out, per_class, seed):
        click.echo(str(path))



# ---------------------------------------------------------------- models and training
models_root_option = click.option(
    "--models-root", type=click.Path(path_type=Path), default=None,
    help="Folder of runs [default: $STREETLENS_MODELS or ./models].")


@main.command("train")
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
@click.option("--name", default=None, help="Run name [default: <dataset>-<backbone>-<mode>].")
@click.option("--device", default="auto", show_default=True)
@user_errors
def train_cmd(dataset_name, data_root, models_root, backbone, mode, weights, epochs, patience,
              lr, batch_size, loss_weights, hidden, dropout, augment, views, no_cache,
              cache_precision, train_precision, image_size, seed, name, device):
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
        seed=seed, name=name, device=device,
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


@main.command("runs")
@models_root_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@user_errors
def runs_cmd(models_root, as_csv):
    """Compare all runs: mode × backbone, both heads, val and test (the study's table)."""
    from analysis.train.runs import comparison_table, list_runs

    table = comparison_table(list_runs(models_root))
    if table.empty:
        click.echo("no runs yet: train one with `streetlens train --dataset D --backbone B --mode M`")
        return
    click.echo(table.to_csv(index=False) if as_csv else table.to_string(index=False, float_format="%.3f"))


@main.command("predict")
@click.argument("run")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@models_root_option
@click.option("--top", default=3, show_default=True)
@user_errors
def predict_cmd(run, images, models_root, top):
    """Classify image files with a trained RUN."""
    from analysis.train.predict import predict_files
    from analysis.train.runs import open_run

    table = predict_files(open_run(run, models_root), images, top=top)
    for row in table.to_dict("records"):
        if isinstance(row.get("error"), str):
            click.echo(f"{row['file']}: skipped, {row['error']}")
        else:
            click.echo(f"{row['file']}: {row['city']} ({row['p']:.2f}), {row['group']} "
                       f"({row['p_group']:.2f})  top: {row['top']}")



cache_root_option = click.option(
    "--cache-root", type=click.Path(path_type=Path), default=None,
    help="[default: $STREETLENS_CACHE or ./cache]")


def analysed_run_options(func):
    """RUN, --models-root, --dataset and --cache-root (in that order): which trained run,
    and where its dataset and analysis cache are. Shared by `analyze` and `reliability`."""
    options = (click.argument("run"), models_root_option,
               click.option("--dataset", "dataset_name", default=None,
                            help="Dataset path if it moved since training [default: the run's]."),
               cache_root_option)
    for option in reversed(options):  # decorators apply bottom-up
        func = option(func)
    return func


@main.command("analyze")
@analysed_run_options
@click.option("--stages", default="forward,map,channels,concepts,featvis", show_default=True,
              help="Comma-separated stages to run (each is resumable and cached).")
@click.option("--concepts", "n_concepts", default=12, show_default=True, help="NMF concepts.")
@click.option("--featvis-steps", default=256, show_default=True, help="lucent optimisation steps.")
@click.option("--featvis-size", default=128, show_default=True, help="Feature-visualisation size (px).")
@click.option("--featvis-lr", default=0.05, show_default=True,
              help="lucent's Adam step (0.1 with half the steps gives similar pictures).")
@click.option("--featvis-precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto",
              show_default=True,
              help="auto: bf16 where it is native and faster (not for depthwise convs on a CPU).")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--reliability", is_flag=True,
              help="Also run the reliability checks (opt-in; see `streetlens reliability`).")
@user_errors
def analyze_cmd(run, models_root, dataset_name, cache_root, stages, n_concepts, featvis_steps,
                featvis_size, featvis_lr, featvis_precision, batch_size, seed, device, reliability):
    """Precompute everything the dashboard shows for RUN (whole dataset)."""
    from analysis.precompute import AnalyzeConfig, analyze, summary_lines

    cfg = AnalyzeConfig(batch_size=batch_size, n_concepts=n_concepts, featvis_steps=featvis_steps,
                        featvis_size=featvis_size, featvis_lr=featvis_lr,
                        featvis_precision=featvis_precision, seed=seed, device=device,
                        stages=tuple(s.strip() for s in stages.split(",") if s.strip()))
    if reliability and "reliability" not in cfg.stages:
        cfg.stages = (*cfg.stages, "reliability")
    cache = analyze(run, config=cfg, dataset=dataset_name, cache_root=cache_root,
                    models_root=models_root, log=click.echo)
    click.echo("\n".join(summary_lines(cache)))


@main.command("demo")
@data_root_option
@models_root_option
@cache_root_option
@click.option("--per-class", default=80, show_default=True, help="Demo streets per city.")
@click.option("--places/--no-places", "with_places", default=None,
              help="Also train the Places365 wideresnet18 [default: when its weights are on disk].")
@click.option("--featvis-steps", default=48, show_default=True,
              help="lucent steps (at lr 0.1) per feature visualisation.")
@user_errors
def demo_cmd(data_root, models_root, cache_root, per_class, with_places, featvis_steps):
    """Build the offline demo: procedural streets, trained runs, their analysis."""
    from analysis.demo import DemoConfig, build_demo
    from analysis.store import default_cache_root
    from analysis.train.runs import default_models_root

    build_demo(data_root or default_data_root(), models_root or default_models_root(),
               cache_root or default_cache_root(),
               DemoConfig(per_class=per_class, with_places=with_places, featvis_steps=featvis_steps),
               log=click.echo)

@main.group()
def weights() -> None:
    """Pretrained weight files: list what is present, fetch what is missing."""


@weights.command("list")
@click.option("--root", type=click.Path(path_type=Path), default=None, help="[default: models/weights]")
def weights_list(root):
    """Weight sources, whether each is present, and where it comes from."""
    from analysis.nets.registry import list_backbones, get_backbone
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
    from analysis.nets.weights import WeightsError, fetch

    try:
        path = fetch(name, file=file, root=root)
    except (WeightsError, KeyError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from exc
    click.echo(str(path))

@data.command("collect")
@dataset_option
@data_root_option
@click.option("--class", "cls", required=True, help="Class (city) the images are for, e.g. tokyo.")
@click.option("--query", default=None, help="Search query [default: '<class> street'].")
@click.option("--exclude", default="", metavar="WORD,WORD",
              help="Words appended to the query as -word terms, e.g. art,fashion,food.")
@click.option("--max", "max_images", default=1000, show_default=True,
              help="Stop once the dataset holds this many images of the class.")
@click.option("--engine", default="bing", show_default=True,
              help="Image search engine: bing, google or baidu.")
@click.option("--licence-filter", default=None,
              help="Engine licence filter, e.g. noncommercial,modify (google, bing) or "
                   "creativecommons / publicdomain (bing); baidu has none.")
@click.option("--group", default=None, metavar="GROUP",
              help="Group of a class that is not built in, e.g. East (or CLASS=GROUP).")
@click.option("--min-side", default=64, show_default=True, help="Smallest accepted side (px).")
@click.option("--seed", default=0, show_default=True, help="Split seed for new images.")
@click.option("--workers", default=0, help="Decoding processes [default: cores, at most 4].")
@user_errors
def data_collect(dataset_name, data_root, cls, query, exclude, max_images, engine,
                 licence_filter, group, min_side, seed, workers):
    """Crawl images of one class from an image search engine into a dataset (resumable)."""
    from analysis.data.collect import collect
    from analysis.data.importer import ImportOptions

    if group and "=" in group:
        name, _, group = group.partition("=")
        if name.strip() != cls:
            raise click.BadParameter(f"--group names {name.strip()!r}, not --class {cls!r}",
                                     param_hint="--group")
    report = collect(
        open_dataset(dataset_name, data_root), cls, query,
        exclude=[w for w in exclude.split(",") if w.strip()], max_images=max_images,
        engine=engine, licence_filter=licence_filter, group=group.strip() if group else None,
        options=ImportOptions(min_side=min_side, seed=seed, workers=workers),
    )
    click.echo("\n".join(report.lines()))


# ---------------------------------------------------------------- curation
@data.command("scores")
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
@click.option("--progress-file", type=click.Path(path_type=Path), default=None,
              help="Also write progress as JSON here (the Curate page's background run).")
@click.option("--no-progress-bar", is_flag=True, help="No tqdm bar.")
@user_errors
def data_scores(dataset_name, data_root, street_categories, run_name, models_root, batch_size,
                device, force, progress_file, no_progress_bar):
    """Street / outlier (/ model dispute) scores per image, for the Curate page's order."""
    import torch

    from analysis.data.scores import compute_scores, places365_scorer, write_progress

    dev = "cuda" if device == "auto" and torch.cuda.is_available() else (
        "cpu" if device == "auto" else device)
    cats = [c.strip() for c in street_categories.split(",") if c.strip()] if street_categories else None
    try:
        report = compute_scores(open_dataset(dataset_name, data_root), places365_scorer(device=dev),
                                street_categories=cats, batch_size=batch_size, force=force,
                                run=run_name, models_root=models_root, progress=not no_progress_bar,
                                progress_file=progress_file)
    except Exception as exc:
        write_progress(progress_file, state="failed", message=str(exc).splitlines()[0] if str(exc) else
                       type(exc).__name__)
        raise
    click.echo("\n".join(report.lines()))


@data.command("curate")
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


@main.command("reliability")
@analysed_run_options
@click.option("--images", default=8, show_default=True,
              help="Correctly classified test images for randomisation and deletion/insertion.")
@click.option("--ig-images", default=4, show_default=True,
              help="Of those, how many for integrated gradients (its cost: --ig-steps passes each).")
@click.option("--ig-steps", default=8, show_default=True, help="Integrated-gradients steps.")
@click.option("--steps", default=20, show_default=True, help="Deletion/insertion steps.")
@click.option("--random-orders", default=3, show_default=True,
              help="Random pixel orders (seeds) of the deletion/insertion reference.")
@click.option("--baseline", type=click.Choice(["blur", "mean"]), default="blur", show_default=True,
              help="What a deleted pixel becomes: the blurred image or its mean colour.")
@click.option("--loc-images", default=30, show_default=True,
              help="Test images for the pointing game of the per-pixel methods (Grad-CAM: all).")
@click.option("--tolerance", default=15, show_default=True,
              help="Pointing-game tolerance in pixels at 224 px (scaled with the image).")
@click.option("--methods", default="", help="Comma-separated methods [default: the dashboard's five].")
@click.option("--modes", default="cascade,independent", show_default=True,
              help="Randomisation schedules: cascade, independent.")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@user_errors
def reliability_cmd(run, models_root, dataset_name, cache_root, images, ig_images, ig_steps, steps,
                    random_orders, baseline, loc_images, tolerance, methods, modes, batch_size, seed,
                    device):
    """Can RUN's explanations be trusted? Randomisation sanity check, deletion/insertion,
    pointing game (demo data) → cache/RUN/reliability.parquet and a verdict per method."""
    from analysis.explain.reliability.maps import parse_methods
    from analysis.explain.reliability.verdict import verdicts_from_table
    from analysis.precompute import AnalyzeConfig, analyze, summary_lines

    parse_methods(methods)  # one clear line for a typo, before any work
    cfg = AnalyzeConfig(batch_size=batch_size, seed=seed, device=device, stages=("forward", "reliability"),
                        reliability_images=images, reliability_ig_images=ig_images,
                        reliability_ig_steps=ig_steps, reliability_steps=steps,
                        reliability_random_orders=random_orders, reliability_baseline=baseline,
                        reliability_loc_images=loc_images, reliability_tolerance=tolerance,
                        reliability_methods=methods, reliability_modes=modes)
    cache = analyze(run, config=cfg, dataset=dataset_name, cache_root=cache_root,
                    models_root=models_root, log=click.echo)
    click.echo("\n".join(summary_lines(cache)))
    click.echo(f"\n{cache.root / 'reliability.parquet'}")
    for v in verdicts_from_table(cache.table("reliability.parquet")).values():
        click.echo(f"  {v.icon} {v.text}")


if __name__ == "__main__":  # pragma: no cover
    main()
