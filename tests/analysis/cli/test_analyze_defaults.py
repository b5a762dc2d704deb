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


def test_set_reaches_config_fields_as_their_type_and_refuses_own_options():
    import click
    import pytest

    from analysis.cli.analyze import apply_settings, parse_settings

    cfg = apply_settings(AnalyzeConfig(), parse_settings(["concept_fit=full", "umap_epochs=50", "concept_rows=8000",
                                                          "reliability_tolerance=3e1", "stability_refits=3"]))
    assert cfg.concept_fit == "full" and cfg.value("concept_fit") == "full"  # the field, not a shadow in extra
    assert cfg.umap_epochs == 50 and type(cfg.umap_epochs) is int and cfg.concept_rows == 8000
    assert cfg.reliability_tolerance == 30 and type(cfg.reliability_tolerance) is int  # 3e1 read as 30.0
    assert cfg.extra == {"stability_refits": 3} and cfg.value("stability_refits") == 3
    with pytest.raises(click.BadParameter, match="n_concepts has an option of its own: --concepts"):
        apply_settings(AnalyzeConfig(), {"n_concepts": 4})
    with pytest.raises(click.BadParameter, match="umap_epochs must be an integer, got 'many'"):
        apply_settings(AnalyzeConfig(), parse_settings(["umap_epochs=many"]))
    with pytest.raises(click.BadParameter, match="concept_rows must be an integer, got 0.5"):
        apply_settings(AnalyzeConfig(), {"concept_rows": 0.5})
