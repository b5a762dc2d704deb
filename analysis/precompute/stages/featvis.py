"""``featvis``: lucent feature visualisations of every concept direction and of each
class's top channels. Each picture is saved as soon as its batch is done, so a rerun
renders only what is missing."""

from __future__ import annotations

import pandas as pd

from analysis.explain.featvis import render_features
from analysis.nets.precision import backward_precision
from analysis.precompute.stage import Stage
from analysis.precompute.stages.concepts import load_basis
from analysis.progress import bar
from analysis.store import atomic_path

BATCH = 8


def wanted_pictures(ctx) -> list[tuple[str, int, object]]:
    """(kind, index, objective value) of every picture the dashboard shows."""
    wanted: list[tuple[str, int, object]] = []
    if ctx.cache.has("concept_basis"):
        basis = load_basis(ctx.cache)
        wanted += [("concept", k, basis.components[k]) for k in range(basis.n_concepts)]
    if ctx.cache.has("top_channels"):
        top = ctx.cache.table("top_channels")
        top = top[(top["head"] == "city") & (top["rank"] < ctx.param("featvis_channels"))]
        wanted += [("channel", int(c), int(c)) for c in sorted(set(top["channel"]))]
    return wanted


def run(ctx) -> dict:
    spec = ctx.run.spec
    wanted = wanted_pictures(ctx)
    todo = [w for w in wanted if not ctx.cache.featvis_path(w[0], w[1]).is_file()]
    precision = backward_precision(ctx.param("featvis_precision"), ctx.model, ctx.device)
    for start in bar(range(0, len(todo), BATCH), desc="feature visualisation", unit="batch",
                     disable=not ctx.progress):
        chunk = todo[start : start + BATCH]
        images = render_features(
            ctx.model, spec.visualised_layer,
            [("direction" if kind == "concept" else "channel", value) for kind, _, value in chunk],
            size=ctx.param("featvis_size"), steps=ctx.param("featvis_steps"), lr=ctx.param("featvis_lr"),
            seed=ctx.param("seed"), batch=BATCH, mean_std=spec.mean_std(ctx.run.weights), device=ctx.device,
            precision=precision, progress=False)
        for (kind, index, _), img in zip(chunk, images):
            with atomic_path(ctx.cache.featvis_path(kind, index)) as tmp:
                img.save(tmp, "PNG")
    table = pd.DataFrame([{"kind": kind, "index": idx, "file": ctx.cache.relative(ctx.cache.featvis_path(kind, idx))}
                          for kind, idx, _ in wanted])
    ctx.cache.write_table("featvis", table)
    return {"images": len(wanted), "layer": spec.visualised_layer, "steps": ctx.param("featvis_steps"),
            "precision": precision}


STAGE = Stage(
    name="featvis", order=40, run=run,
    params=("featvis_channels", "featvis_size", "featvis_steps", "featvis_lr", "featvis_precision", "seed"),
    doc="lucent feature visualisations of the concepts and of each class's top channels",
    reads=("concept_basis", "top_channels"), writes=("featvis", "featvis_images"),
)
