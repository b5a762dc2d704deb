"""`streetlens analyze` and `streetlens demo` default to exactly the settings of
AnalyzeConfig and DemoConfig (the CLI spells them out so `--help` stays fast)."""

from __future__ import annotations

from analysis.cli.analyze import analyze_cmd, demo_cmd
from analysis.demo import DemoConfig
from analysis.precompute import AnalyzeConfig


def _defaults(cmd) -> dict:
    return {p.name: p.default for p in cmd.params}


def test_analyze_defaults_are_the_configs():
    cli, cfg = _defaults(analyze_cmd), AnalyzeConfig()
    for name in ("featvis_steps", "featvis_size", "featvis_lr", "featvis_param", "featvis_transforms",
                 "featvis_precision", "batch_size", "seed", "engine", "address", "ray_actors", "shard_rows", "verify"):
        assert cli[name] == getattr(cfg, name), name
    assert cli["n_concepts"] == cfg.n_concepts
    assert _defaults(demo_cmd)["featvis_steps"] == DemoConfig().featvis_steps
