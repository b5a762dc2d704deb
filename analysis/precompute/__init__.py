"""``streetlens analyze RUN``: everything the dashboard shows, computed once per run.

One module per stage in :mod:`analysis.precompute.stages`, each declaring a
:class:`~analysis.precompute.stage.Stage` (what it reads and writes, its version and
parameters); :mod:`analysis.precompute.runner` orders them by their inputs, fingerprints,
resumes and reports progress.
"""

from analysis.precompute.config import AnalyzeConfig
from analysis.precompute.runner import analyze, dataset_for_run, default_stages, summary_lines
from analysis.precompute.stage import Stage, all_stages, missing_hint

__all__ = ["AnalyzeConfig", "analyze", "dataset_for_run", "default_stages", "summary_lines", "Stage",
           "all_stages", "missing_hint"]
