"""The ``streetlens`` command line: one command per stage, each a thin wrapper around a
plain Python function (so everything here can be done from Python too).

Errors that a user can fix (bad folders, unknown classes, corrupt tables) end in one
clear line and exit code 1, never a traceback. ``--progress-file F`` makes any command a
background job that writes its own progress to ``F`` (see ``analysis.jobs``).
"""

from __future__ import annotations

from pathlib import Path

import click

from analysis import progress
from analysis.allocator import keep_freed_memory
from analysis.cli import analyze, concepts, curate, data, experiment, models
from analysis.cli.common import one_line


class StreetlensGroup(click.Group):
    """The main group: a job's last progress word — done, or failed with the reason."""

    def invoke(self, ctx: click.Context):
        try:
            result = super().invoke(ctx)
        except click.exceptions.Exit as exc:
            progress.finish(exc.exit_code == 0)
            raise
        except click.ClickException as exc:
            progress.finish(False, exc.format_message())
            raise
        except BaseException as exc:
            progress.finish(False, one_line(exc))
            raise
        progress.finish(True)
        return result


@click.group(cls=StreetlensGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="streetlens")
@click.option("--progress-file", type=click.Path(path_type=Path), default=None,
              help="Also write progress as JSON to this file (background jobs of the dashboard).")
def main(progress_file: Path | None) -> None:
    """streetlens: what makes a street look like Tokyo rather than Vancouver?"""
    progress.report_to(progress_file)
    keep_freed_memory()  # every command is a batch job (analysis/allocator.py)


for command in (curate.data_scores, curate.data_curate):
    data.data.add_command(command)
for command in (data.data, models.train_cmd, models.runs_cmd, models.predict_cmd, models.weights,
                analyze.analyze_cmd, analyze.reliability_cmd, analyze.demo_cmd, concepts.concepts,
                concepts.portrait_cmd, concepts.shortcuts_cmd, concepts.compare_cmd,
                experiment.experiment_cmd):
    main.add_command(command)
