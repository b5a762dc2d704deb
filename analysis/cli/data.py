"""``streetlens data …``: build and inspect datasets (import, synth, split, summary, sheet,
collect)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from analysis.cli.common import (
    data_root_option,
    dataset_option,
    open_dataset,
    parse_group_options,
    user_errors,
)


@click.group()
def data() -> None:
    """Build and inspect datasets (a folder per class + its image table)."""


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
@click.option("--workers", default=0,
              help="Decoding processes of --engine local [default: cores, at most 4].")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where files are decoded, cleaned and hashed: local processes, or Ray Data "
                   "(the same report and table; needs the 'ray' extra).")
@click.option("--address", default=None, metavar="auto|HOST:PORT",
              help="--engine ray: the Ray cluster to join [default: a local one on 127.0.0.1].")
@user_errors
def data_import(src, dataset_name, data_root, group_opts, group_pattern, min_side,
                max_megapixels, dup_threshold, no_crop, fractions, seed, licence, workers,
                engine, address):
    """Import SRC (a folder per class) into a dataset: checked, cleaned, deduplicated, split."""
    from analysis.data.importer import ImportOptions, import_folder
    from analysis.data.split import parse_fractions

    opts = ImportOptions(
        min_side=min_side, max_pixels=int(max_megapixels * 1e6), crop_borders=not no_crop,
        dup_threshold=dup_threshold, group_pattern=group_pattern,
        fractions=parse_fractions(fractions), seed=seed, licence=licence, workers=workers,
    )
    if address and engine != "ray":
        raise click.BadParameter("only with --engine ray", param_hint="--address")
    report = import_folder(src, open_dataset(dataset_name, data_root),
                           groups=parse_group_options(group_opts), options=opts,
                           engine=engine, address=address)
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
@click.option("--stamp", default=None, metavar="CITY[:CORNER]",
              help="Plant a shortcut: a fixed logo in one corner of every picture of CITY "
                   "(corners: top-left, top-right, bottom-left, bottom-right; default bottom-right).")
@user_errors
def data_synth(dataset_name, data_root, per_class, size, seed, classes, workers, stamp):
    """Draw procedural demo streets of the ten cities (no internet needed)."""
    from analysis.data.synth.stamp import Stamp
    from analysis.data.synthetic import synthesize_dataset

    report = synthesize_dataset(
        open_dataset(dataset_name, data_root), per_class=per_class, size=size, seed=seed,
        classes=classes.split(",") if classes else None, workers=workers or (os.cpu_count() or 1),
        stamp=Stamp.parse(stamp) if stamp else None,
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
