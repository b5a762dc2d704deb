"""The ``streetlens`` command line: one command per stage, each a thin wrapper around a
plain Python function (so everything here can be done from Python too).

Errors that a user can fix (bad folders, unknown classes, corrupt tables) end in one
clear line and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from analysis.classes import UnknownClassError
from analysis.data.dataset import Dataset, DatasetError, default_data_root


def user_errors(func):
    """Turn the errors a user can fix into one-line CLI errors."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (DatasetError, UnknownClassError, FileNotFoundError, ValueError) as exc:
            if os.environ.get("STREETLENS_DEBUG"):
                raise
            raise click.ClickException(str(exc)) from exc

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
@user_errors
def data_synth(dataset_name, data_root, per_class, size, seed, classes):
    """Draw procedural demo streets of the ten cities (no internet needed)."""
    from analysis.data.synthetic import synthesize_dataset

    report = synthesize_dataset(
        open_dataset(dataset_name, data_root), per_class=per_class, size=size, seed=seed,
        classes=classes.split(",") if classes else None,
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
    from analysis.data.importer import ImportOptions, split_groups
    from analysis.data.split import assign_splits, parse_fractions
    from analysis.data.summary import count_table

    ds = open_dataset(dataset_name, data_root)
    df = ds.read()
    opts = ImportOptions(group_pattern=group_pattern)
    df["group_id"] = split_groups(df, opts)
    df["split"] = assign_splits(df, parse_fractions(fractions), seed, keep_existing=False)
    ds.write(df)
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


if __name__ == "__main__":  # pragma: no cover
    main()
