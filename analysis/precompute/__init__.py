"""``streetlens analyze RUN``: everything the dashboard shows, computed once per run.

One module per stage in :mod:`analysis.precompute.stages`, each declaring a
:class:`~analysis.precompute.stage.Stage` (what it reads and writes, its version and
parameters); :mod:`analysis.precompute.runner` orders them by their inputs, fingerprints,
resumes and reports progress.
"""

from analysis.precompute.config import AnalyzeConfig
from analysis.precompute.stage import Stage, all_stages, missing_hint

_RUNNER = ("analyze", "dataset_for_run", "default_stages", "summary_lines")


def __getattr__(name: str):
    """The runner, and PyTorch with it, is imported on first use (PEP 562): every dashboard
    page imports this package's view modules and never runs an analysis."""
    if name in _RUNNER:
        from analysis.precompute import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AnalyzeConfig", "analyze", "dataset_for_run", "default_stages", "summary_lines", "Stage",
           "all_stages", "missing_hint"]
