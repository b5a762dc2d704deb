"""``streetlens analyze``, ``reliability`` and ``demo``: the whole-dataset analysis."""

from __future__ import annotations

import click

from analysis.cli.common import (
    analysed_run_options,
    cache_root_option,
    data_root_option,
    models_root_option,
    user_errors,
)


def split_names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


OWN_OPTIONS = {"batch_size": "--batch-size", "n_concepts": "--concepts", "featvis_steps": "--featvis-steps",
               "featvis_size": "--featvis-size", "featvis_lr": "--featvis-lr", "featvis_param": "--featvis-param",
               "featvis_transforms": "--featvis-transforms", "featvis_precision": "--featvis-precision",
               "seed": "--seed", "device": "--device", "stages": "--stages", "redo": "--redo", "engine": "--engine",
               "address": "--address", "ray_actors": "--workers", "shard_rows": "--shard-rows", "verify": "--verify",
               "extra": "--set"}
"""AnalyzeConfig's fields that have an option of their own (``--set`` refuses them)."""


def apply_settings(cfg, settings: dict):
    """``cfg`` with the ``--set`` values: a field of the config (``concept_fit``, ``umap_epochs`` …)
    set as the field's type, anything else a stage parameter in ``extra``. (Put in ``extra``,
    a field's value was never read: the field's default won.)"""
    from dataclasses import fields, replace

    known = {f.name for f in fields(cfg)}
    changes, extra = {}, dict(cfg.extra)
    for name, value in settings.items():
        if name in OWN_OPTIONS:
            raise click.BadParameter(f"{name} has an option of its own: {OWN_OPTIONS[name]}", param_hint="--set")
        if name not in known:
            extra[name] = value
            continue
        kind = type(getattr(cfg, name))
        if kind is str:
            changes[name] = str(value)
        elif kind in (int, float) and isinstance(value, (int, float)) and (kind is float or float(value).is_integer()):
            changes[name] = kind(value)
        else:
            raise click.BadParameter(f"{name} must be {'an integer' if kind is int else 'a number'}, "
                                     f"got {value!r}", param_hint="--set")
    return replace(cfg, extra=extra, **changes)


def parse_settings(settings) -> dict:
    """``NAME=VALUE`` pairs as stage parameters; values read as numbers where they are."""
    out = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--set")
        for cast in (int, float):
            try:
                out[name.strip()] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[name.strip()] = value
    return out


def list_stages(ctx: click.Context, _param, value: bool) -> None:
    """``--list-stages``: every stage's descriptor, in run order, then exit."""
    if not value or ctx.resilient_parsing:
        return
    from analysis.precompute import all_stages

    for s in all_stages().values():
        mark = "" if s.default else "  (opt-in)"
        click.echo(f"{s.name:<12} {s.doc}{mark}")
        click.echo(f"{'':<12} reads {', '.join(s.reads) or '-'}; writes {', '.join(s.writes)}")
        if s.defaults:
            click.echo(f"{'':<12} --set " + ", ".join(f"{k}={v}" for k, v in s.defaults.items()))
    ctx.exit()


@click.command("analyze")
@analysed_run_options
@click.option("--stages", default=None,
              help="Comma-separated stages to run (each resumable and cached; what they need "
                   "comes along) [default: every stage that is not opt-in; see --list-stages].")
@click.option("--list-stages", is_flag=True, expose_value=False, is_eager=True, callback=list_stages,
              help="List the stages (what each reads and writes) and exit.")
@click.option("--redo", default="", help="Comma-separated stages to compute again although cached "
                                         "(what reads their results follows).")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="A stage parameter without an option of its own, e.g. --set stability_refits=8 "
                   "(see --list-stages); repeatable.")
# defaults spelled as in AnalyzeConfig / DemoConfig (importing them here would load torch
# for `--help`); tests/analysis/cli/test_analyze_defaults.py keeps them equal
@click.option("--concepts", "n_concepts", default=12, show_default=True, help="NMF concepts.")
@click.option("--featvis-steps", default=128, show_default=True, help="lucent optimisation steps.")
@click.option("--featvis-size", default=128, show_default=True, help="Feature-visualisation size (px).")
@click.option("--featvis-lr", default=0.05, show_default=True, help="lucent's Adam step.")
@click.option("--featvis-param", type=click.Choice(["fft", "pixel"]), default="fft", show_default=True,
              help="Image parameterisation (fft: with decorrelated colours).")
@click.option("--featvis-transforms", type=click.Choice(["standard", "jitter", "none"]),
              default="standard", show_default=True,
              help="Robustness transforms (standard: lucent's; see benchmarks/bench_featvis.py).")
@click.option("--featvis-precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto",
              show_default=True,
              help="auto: bf16 where it is native and faster (not for depthwise convs on a CPU).")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--reliability", is_flag=True,
              help="Also run the reliability checks (opt-in; see `streetlens reliability`).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the per-image stage runs: this process, or Ray Data over an actor pool "
                   "(the same shards either way; --set ray_decode=auto|actors|tasks; "
                   "see README \"Past one machine\").")
@click.option("--address", default=None,
              help="Ray: 'auto' (the cluster `ray start` began here) or HOST:PORT "
                   "[default: a private local cluster on 127.0.0.1].")
@click.option("--workers", "ray_actors", default=0, show_default=True,
              help="Ray: model actors [0: one per GPU, else one per two CPUs].")
@click.option("--shard-rows", default=256, show_default=True,
              help="Images per shard of a new cache (the unit of writing, checking and recomputing).")
@click.option("--verify", is_flag=True, default=False,
              help="Check every shard's checksum before trusting cached results (sizes are always checked).")
@user_errors
def analyze_cmd(run, models_root, dataset_name, cache_root, stages, redo, settings, n_concepts, featvis_steps,
                featvis_size, featvis_lr, featvis_param, featvis_transforms, featvis_precision, batch_size, seed,
                device, reliability, engine, address, ray_actors, shard_rows, verify):
    """Precompute everything the dashboard shows for RUN (whole dataset)."""
    from analysis.precompute import AnalyzeConfig, analyze, summary_lines

    cfg = AnalyzeConfig(batch_size=batch_size, n_concepts=n_concepts, featvis_steps=featvis_steps,
                        featvis_size=featvis_size, featvis_lr=featvis_lr, featvis_param=featvis_param,
                        featvis_transforms=featvis_transforms, featvis_precision=featvis_precision, seed=seed, device=device,
                        stages=split_names(stages) if stages else None, redo=split_names(redo),
                        engine=engine, address=address, ray_actors=ray_actors, shard_rows=shard_rows,
                        verify=verify)
    cfg = apply_settings(cfg, parse_settings(settings))
    if address and engine != "ray":
        raise click.UsageError("--address is for --engine ray")
    if reliability:
        from analysis.precompute import default_stages

        chosen = cfg.stages if cfg.stages is not None else default_stages()
        cfg.stages = chosen if "reliability" in chosen else (*chosen, "reliability")
    cache = analyze(run, config=cfg, dataset=dataset_name, cache_root=cache_root,
                    models_root=models_root, log=click.echo)
    click.echo("\n".join(summary_lines(cache)))


@click.command("demo")
@data_root_option
@models_root_option
@cache_root_option
@click.option("--per-class", default=80, show_default=True, help="Demo streets per city.")
@click.option("--places/--no-places", "with_places", default=None,
              help="Also train the Places365 wideresnet18 [default: when its weights are on disk].")
@click.option("--featvis-steps", default=48, show_default=True,
              help="lucent steps per feature visualisation (the demo's other featvis settings: "
                   "analysis/demo.py DemoConfig).")
@user_errors
def demo_cmd(data_root, models_root, cache_root, per_class, with_places, featvis_steps):
    """Build the offline demo: procedural streets, trained runs, their analysis."""
    from analysis.demo import DemoConfig, build_demo
    from analysis.store import default_cache_root, default_data_root, default_models_root

    build_demo(data_root or default_data_root(), models_root or default_models_root(),
               cache_root or default_cache_root(),
               DemoConfig(per_class=per_class, with_places=with_places, featvis_steps=featvis_steps),
               log=click.echo)


@click.command("reliability")
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
    pointing game (demo data) → the run's reliability table and a verdict per method."""
    from analysis.explain.reliability.maps import parse_methods
    from analysis.explain.reliability.verdict import verdicts_from_table
    from analysis.precompute import AnalyzeConfig, analyze, summary_lines

    parse_methods(methods)  # one clear line for a typo, before any work
    cfg = AnalyzeConfig(batch_size=batch_size, seed=seed, device=device, stages=("reliability",),
                        reliability_images=images, reliability_ig_images=ig_images,
                        reliability_ig_steps=ig_steps, reliability_steps=steps,
                        reliability_random_orders=random_orders, reliability_baseline=baseline,
                        reliability_loc_images=loc_images, reliability_tolerance=tolerance,
                        reliability_methods=methods, reliability_modes=modes)
    cache = analyze(run, config=cfg, dataset=dataset_name, cache_root=cache_root,
                    models_root=models_root, log=click.echo)
    click.echo("\n".join(summary_lines(cache)))
    click.echo(f"\n{cache.path('reliability')}")
    for v in verdicts_from_table(cache.reliability()).values():
        click.echo(f"  {v.icon} {v.text}")
