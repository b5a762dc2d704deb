"""What every command shares: one-line errors for what a user can fix, and the options
that say where datasets, runs and caches live."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from analysis.classes import UnknownClassError
from analysis.cluster import ClusterError
from analysis.data.dataset import Dataset, DatasetError
from analysis.store import default_data_root


def is_user_error(exc: BaseException) -> bool:
    """Errors a user can fix: bad input, missing files or weights, unknown names."""
    if isinstance(exc, (DatasetError, UnknownClassError, FileNotFoundError, ValueError,
                        ClusterError)):  # ClusterError: no Ray, or no cluster at --address
        return True
    nets = sys.modules.get("analysis.nets.weight_sources"), sys.modules.get("analysis.nets.registry")
    return (nets[0] is not None and isinstance(exc, nets[0].WeightsError)) or \
        (nets[1] is not None and isinstance(exc, nets[1].UnknownBackboneError))


def one_line(exc: BaseException) -> str:
    message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return message.splitlines()[0] if message else type(exc).__name__


def user_errors(func):
    """Turn the errors a user can fix into one-line CLI errors."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not is_user_error(exc) or os.environ.get("STREETLENS_DEBUG"):
                raise
            raise click.ClickException(one_line(exc)) from exc

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
models_root_option = click.option(
    "--models-root", type=click.Path(path_type=Path), default=None,
    help="Folder of runs [default: $STREETLENS_MODELS or ./models].")
cache_root_option = click.option(
    "--cache-root", type=click.Path(path_type=Path), default=None,
    help="[default: $STREETLENS_CACHE or ./cache]")


def open_dataset(name: str, data_root: Path | None) -> Dataset:
    return Dataset.open(name, data_root or default_data_root())


def analysed_run_options(func):
    """RUN, --models-root, --dataset and --cache-root (in that order): which trained run,
    and where its dataset and analysis cache are. Shared by `analyze` and `reliability`."""
    options = (click.argument("run"), models_root_option,
               click.option("--dataset", "dataset_name", default=None,
                            help="The run's dataset if it moved since training, or another dataset to analyse with this run (its cache: <run>@<dataset>) [default: the run's]."),
               cache_root_option)
    for option in reversed(options):  # decorators apply bottom-up
        func = option(func)
    return func
