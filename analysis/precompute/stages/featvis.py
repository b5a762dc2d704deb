"""``featvis``: lucent feature visualisations of every concept direction and of every
channel a page shows before anyone clicks, each with its quality (the activation it
reaches over that of the unit's top-8 dataset images, ``analysis.explain.featvis_quality``).

Pages render any other channel on demand with the same settings
(:mod:`analysis.precompute.featvis_on_demand`). Each picture is saved as soon as its
batch is done, so a rerun renders only what is missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from analysis.explain import evidence
from analysis.nets.precision import backward_precision
from analysis.precompute import featvis_on_demand as fod
from analysis.precompute.stage import Stage
from analysis.progress import bar



def shown_channels(top: pd.DataFrame, classes: list[str], per_target: int) -> list[int]:
    """Channels the Features page shows by default: the top ``per_target`` of every city
    and group (the galleries), and every top channel of the first city (the "closer look"
    opens on it)."""
    first = top[(top["head"] == "city") & (top["target"] == classes[0])] if classes else top.iloc[:0]
    chosen = pd.concat([top[top["rank"] < per_target], first])
    return [int(c) for c in chosen.sort_values(["head", "target", "rank"])["channel"]]


def first_sample_channels(ctx) -> list[int]:
    """The Sample page's first image (dataset order): the channels that push most towards
    its predicted city."""
    if not (ctx.cache.has("samples") and ctx.cache.has("channel_attr")):
        return []
    samples = ctx.cache.table("samples")
    if samples.empty:
        return []
    first = samples.iloc[0]
    pred = list(ctx.run.labels.classes).index(first["pred_class"])
    attr = np.asarray(ctx.cache.array("channel_attr")[int(first["row"]), pred], np.float32)
    return evidence.top_channels(attr, fod.SAMPLE_CHANNELS)


def wanted_pictures(ctx) -> list[tuple[str, int]]:
    """(kind, index) of every picture a page shows by default, each once."""
    wanted: list[tuple[str, int]] = []
    if ctx.cache.has("concept_basis"):
        wanted += [("concept", k) for k in range(len(ctx.cache.read_concept_basis()[0]))]
    channels: list[int] = []
    if ctx.cache.has("top_channels"):
        channels += shown_channels(ctx.cache.table("top_channels"), list(ctx.run.labels.classes),
                                   ctx.param("featvis_channels"))
    channels += first_sample_channels(ctx)
    wanted += [("channel", c) for c in dict.fromkeys(channels)]
    return wanted


def run(ctx) -> dict:
    settings = fod.FeatvisSettings.from_values(ctx.param)
    wanted = wanted_pictures(ctx)
    todo = fod.missing(ctx.cache, wanted, settings.size)
    components = ctx.cache.read_concept_basis()[0] if ctx.cache.has("concept_basis") else None
    objectives = {item: fod.objective(ctx.cache, item, components) for item in wanted}
    for start in bar(range(0, len(todo), fod.BATCH), desc="feature visualisation", unit="batch",
                     disable=not ctx.progress):
        chunk = todo[start:start + fod.BATCH]
        pictures = fod.render(ctx.model, ctx.run, [objectives[i] for i in chunk], settings, device=ctx.device)
        for item, picture in zip(chunk, pictures):
            fod.save(ctx.cache, item, picture)
    pictures = []
    for item in wanted:
        with Image.open(ctx.cache.featvis_path(*item)) as im:
            pictures.append(im.convert("RGB"))
    quality = fod.quality(ctx.model, ctx.run, ctx.cache.array("features"),
                          [objectives[i] for i in wanted], pictures) if wanted else np.zeros(0)
    table = pd.DataFrame({"kind": [k for k, _ in wanted], "index": [i for _, i in wanted],
                          "file": [ctx.cache.relative(ctx.cache.featvis_path(*i)) for i in wanted],
                          "quality": quality.astype(np.float64)})
    ctx.cache.write_table("featvis", table)
    finite = quality[np.isfinite(quality)]
    return {"images": len(wanted), "rendered": len(todo), "layer": ctx.run.spec.visualised_layer,
            "steps": settings.steps,
            "median_quality": round(float(np.median(finite)), 3) if len(finite) else None,
            "precision": backward_precision(settings.precision, ctx.model, ctx.device)}


STAGE = Stage(
    name="featvis", order=40, run=run, version=2,
    params=("featvis_channels", "featvis_size", "featvis_steps", "featvis_lr", "featvis_param",
            "featvis_transforms", "featvis_precision", "seed"),
    doc="lucent feature visualisations of the concepts and of the channels pages show, with their quality",
    reads=("concept_basis", "top_channels", "features", "samples", "channel_attr"),
    writes=("featvis", "featvis_images"),
)
