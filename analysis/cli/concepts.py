"""``streetlens concepts …``: list a run's concepts, name them, sweep layers × k; and
``streetlens portrait RUN CITY``: a city's portrait in words."""

from __future__ import annotations

import click

from analysis.cli.common import cache_root_option, models_root_option, user_errors


def open_cache(run: str, models_root, cache_root):
    """The run and its analysis: ``RUN`` on its own dataset, ``RUN@DATASET`` on another."""
    from analysis.store import RunCache, analysis_name, default_cache_root, split_analysis
    from analysis.train.runs import open_run

    name, on = split_analysis(run)
    r = open_run(name, models_root)
    return r, RunCache.for_run(analysis_name(r.name, on), cache_root or default_cache_root())


@click.group()
def concepts() -> None:
    """A run's concepts: list them, name them, choose their layer and number."""


@concepts.command("list")
@click.argument("run")
@models_root_option
@cache_root_option
@user_errors
def concepts_list(run, models_root, cache_root):
    """Every concept with the name it goes by, its stability and the cities it raises."""
    from analysis.precompute.concept_views import concept_table

    r, cache = open_cache(run, models_root, cache_root)
    table = concept_table(cache, r.labels.classes)
    for row in table.to_dict("records"):
        tag = f"automatic: {row['source']}" if row["automatic"] else "named"
        stable = "" if "stable" not in row else (" stable" if row["stable"] else " UNSTABLE")
        back = f"  came back {row['came_back']}{stable}" if "came_back" in row else ""
        raises = f"  raises {row['raises']}" if row.get("raises") else ""
        click.echo(f"{row['concept']:>3}  {row['name']:<32} ({tag}){back}{raises}")


@concepts.command("name")
@click.argument("run")
@click.argument("concept", type=int)
@click.argument("name", required=False)
@click.option("--clear", is_flag=True, help="Forget the name: the concept goes by its automatic one again.")
@models_root_option
@cache_root_option
@user_errors
def concepts_name(run, concept, name, clear, models_root, cache_root):
    """Name CONCEPT of RUN (kept with the cache; follows the concept through re-analyses)."""
    from analysis.precompute.concept_views import name_concept

    if clear == (name is not None):
        raise click.UsageError("give either a NAME or --clear")
    _, cache = open_cache(run, models_root, cache_root)
    kept = name_concept(cache, concept, None if clear else name, by="cli")
    click.echo(f"concept {concept}: " + (f"named {kept!r}" if kept else "name cleared (automatic again)"))


@concepts.command("sweep")
@click.argument("run")
@click.option("--layers", default="", help="Comma-separated trunk layers [default: the target layer and the "
                                           "stage before the fine-tuned block].")
@click.option("--k", "ks", default="6,12,24", show_default=True, help="Comma-separated numbers of concepts.")
@click.option("--images", default=300, show_default=True, help="Training images the concepts are fitted on.")
@click.option("--refits", default=3, show_default=True, help="Refits per setting for the stability.")
@models_root_option
@click.option("--dataset", "dataset_name", default=None, help="Dataset path if it moved since training.")
@cache_root_option
@click.option("--device", default="auto", show_default=True)
@user_errors
def concepts_sweep(run, layers, ks, images, refits, models_root, dataset_name, cache_root, device):
    """Fit concepts at several layers × k; report reconstruction error, stability and
    completeness per setting, and the setting to use with the reason."""
    from analysis.precompute import AnalyzeConfig, analyze

    try:
        k_values = [int(v) for v in ks.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{ks!r} is not a comma-separated list of numbers", param_hint="--k") from None
    cfg = AnalyzeConfig(stages=("concept_sweep",), redo=("concept_sweep",), device=device,
                        extra={"sweep_layers": layers, "sweep_k": ",".join(map(str, k_values)),
                               "sweep_images": images, "sweep_refits": refits})
    cache = analyze(run, config=cfg, dataset=dataset_name, cache_root=cache_root, models_root=models_root,
                    log=lambda *_: None)
    table = cache.table("concept_sweep")
    click.echo(f"{'layer':<14}{'k':>4}{'error':>8}{'stable':>8}{'complete':>10}{'negative':>10}")
    for r in table.itertuples():
        mark = "  ← recommended" if r.recommended else ""
        click.echo(f"{r.layer:<14}{r.k:>4}{r.relative_error:>8.2f}{r.stable_share:>8.0%}{r.completeness:>10.0%}"
                   f"{r.negative_fraction:>10.0%}{mark}")
    click.echo("recommended: " + table[table["recommended"]]["reason"].iloc[0])


@click.command("portrait")
@click.argument("run")
@click.argument("city")
@models_root_option
@cache_root_option
@user_errors
def portrait_cmd(run, city, models_root, cache_root):
    """What makes a street look like CITY to RUN: its leading concepts, in words."""
    from analysis.precompute.concept_views import portrait

    r, cache = open_cache(run, models_root, cache_root)
    if city not in r.labels.classes:
        raise click.BadParameter(f"{city!r} is not a city of {r.name} ({', '.join(r.labels.classes)})",
                                 param_hint="CITY")
    p = portrait(cache, city)
    click.echo(f"{city}: " + " ".join(p.sentences))
    for c in p.cards:
        click.echo(f"  {c.concept:>3} {c.name.label:<32} effect {c.effect:+.2f} [{c.low:+.2f}, {c.high:+.2f}]"
                   f"  came back {c.came_back}/{c.refits}  in {c.share:.0%} of {city} vs {c.others:.0%}"
                   + ("" if c.clear else "  (small)"))


@click.command("shortcuts")
@click.argument("run")
@models_root_option
@click.option("--dataset", "dataset_name", default=None, help="Dataset path if it moved since training.")
@cache_root_option
@user_errors
def shortcuts_cmd(run, models_root, dataset_name, cache_root):
    """Evidence that RUN names the city without looking at the street: fixed in the frame,
    in the files' properties, in near-duplicates across the split (computed if missing)."""
    from analysis.precompute import AnalyzeConfig, analyze

    cache = analyze(run, config=AnalyzeConfig(stages=("shortcuts",)), dataset=dataset_name,
                    cache_root=cache_root, models_root=models_root, log=lambda *_: None)
    flags = cache.table("shortcut_flags")
    if flags.empty:
        click.echo("no shortcut found: no class's evidence sits in one border region, file properties "
                   "predict the city no better than chance, and no held-out photo has a training twin")
    for f in flags.itertuples():
        click.echo(f"! {f.text}\n    look at: {f.look}\n    dashboard: {f.link}")
    scores = cache.table("property_scores").iloc[0]
    click.echo(f"file properties → city: balanced accuracy {scores['balanced_accuracy']:.2f} "
               f"(chance {scores['chance']:.2f}, p = {scores['p_value']:.3f})")


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "val", "train", "all"]))
@click.option("--csv", "as_csv", is_flag=True, help="The per-class accuracy table as CSV.")
@click.option("--layers", is_flag=True, help="Also per-layer CKA (runs both models over the images; stored).")
@models_root_option
@cache_root_option
@user_errors
def compare_cmd(run_a, run_b, split, as_csv, layers, models_root, cache_root):
    """Compare two analysed runs of one dataset on the same images: accuracy with 95 %
    intervals and McNemar's test, agreement, where they look, CKA, shared concepts."""
    from analysis.precompute.compare_views import compare, open_pair

    a, b = open_pair(run_a, run_b, models_root, cache_root)
    c = compare(a, b, split)
    if as_csv:
        click.echo(c.accuracy.to_csv(index=False), nl=False)
        return
    click.echo(f"A = {c.run_a}\nB = {c.run_b}\n{split} images: {int(c.accuracy.iloc[0]['images'])}")
    click.echo(f"{'class':<14}{'images':>7}{'A':>22}{'B':>22}{'B − A':>8}{'McNemar p':>11}")
    for r in c.accuracy.itertuples():
        click.echo(f"{r[1]:<14}{r.images:>7}{f'{r.acc_a:.3f} [{r.low_a:.3f}, {r.high_a:.3f}]':>22}"
                   f"{f'{r.acc_b:.3f} [{r.low_b:.3f}, {r.high_b:.3f}]':>22}{r.difference:>+8.3f}{r.p_mcnemar:>11.3f}"
                   + ("  significant" if r.significant else ""))
    click.echo("agreement: " + ", ".join(f"{r.cell} {r.images}" for r in c.agreement.itertuples()))
    rho = c.map_correlation["rho"]
    click.echo(f"where they look (Spearman ρ of the true-class Grad-CAM): median {rho.median():.2f}, "
               f"{(rho < 0.3).mean():.0%} of images below 0.3")
    click.echo(f"linear CKA of the pooled features: {c.cka:.3f}")
    if c.concepts is not None:
        shared = c.concepts[c.concepts["shared"]]
        click.echo(f"concepts: {len(shared)} shared pairs (map correlation ≥ 0.5): "
                   + ", ".join(f"A{r.concept_a}↔B{r.concept_b} {r.similarity:.2f}" for r in shared.itertuples()))
    if layers:
        from analysis.precompute.compare_views import layer_cka

        table = layer_cka(c.run_a, c.run_b, split, models_root, cache_root)
        grid = table.pivot(index="layer_a", columns="layer_b", values="cka")
        grid = grid.loc[table.drop_duplicates("layer_a").sort_values("depth_a")["layer_a"],
                        table.drop_duplicates("layer_b").sort_values("depth_b")["layer_b"]]
        click.echo(f"linear CKA per layer ({int(table['images'].iat[0])} images; rows A, columns B):")
        click.echo(grid.rename(index=lambda n: n.removeprefix("trunk."), columns=lambda n: n.removeprefix("trunk."))
                   .to_string(float_format="%.2f"))
