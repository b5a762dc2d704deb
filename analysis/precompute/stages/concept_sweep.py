"""``concept_sweep`` (opt-in; ``streetlens concepts sweep``): concepts fitted at several
layers with several k, each measured for reconstruction error, stability and
completeness, with the recommended setting and why."""

from __future__ import annotations

import numpy as np

from analysis.explain.concepts.sweep import default_layers, recommend, sweep
from analysis.precompute.stage import Stage


def _ints(text) -> list[int]:
    return [int(v) for v in str(text).split(",") if str(v).strip()]


def run(ctx) -> dict:
    spec = ctx.run.spec
    model = ctx.model
    layers = [s.strip() for s in str(ctx.param("sweep_layers")).split(",") if s.strip()] or \
        default_layers(model.trunk, spec.target_layer, spec.last_block)
    for layer in layers:
        try:
            model.trunk.get_submodule(layer)
        except AttributeError:
            names = ", ".join(n for n, _ in model.trunk.named_children())
            raise ValueError(f"no layer {layer!r} in {spec.name}'s trunk; choose from {names}") from None
    split = ctx.rows["split"].to_numpy()
    rng = np.random.default_rng(ctx.param("seed"))
    train = np.flatnonzero(split == "train")
    train = np.sort(rng.choice(train, min(len(train), ctx.param("sweep_images")), replace=False))
    val = np.flatnonzero(split == "val")
    if not len(val):
        val = np.flatnonzero(split == "test")
    labels = ctx.rows["class"].map({c: i for i, c in enumerate(ctx.run.labels.classes)}).to_numpy()

    def batches(rows):
        return lambda: (ctx.load_images(rows[a:a + ctx.config.batch_size])
                        for a in range(0, len(rows), ctx.config.batch_size))

    table = sweep(model, layers, _ints(ctx.param("sweep_k")), batches(train), batches(val), labels[val],
                  refits=ctx.param("sweep_refits"), max_rows=ctx.param("sweep_rows"), seed=ctx.param("seed"),
                  progress=ctx.progress, fit=ctx.param("concept_fit"))
    best, reason = recommend(table)
    table["recommended"] = table.index == best
    table["reason"] = np.where(table["recommended"], reason, "")
    ctx.cache.write_table("concept_sweep", table)
    return {"settings": len(table), "recommended": reason}


STAGE = Stage(
    name="concept_sweep", order=50, run=run, default=False,
    command="streetlens concepts sweep {run}",
    params=("sweep_layers", "sweep_k", "sweep_images", "sweep_refits", "sweep_rows", "concept_fit", "seed"),
    defaults={"sweep_layers": "", "sweep_k": "6,12,24", "sweep_images": 300, "sweep_refits": 3,
              "sweep_rows": 8000},
    doc="concepts at several layers × k: reconstruction error, stability, completeness, a recommendation",
    reads=("samples",), writes=("concept_sweep",),
    new_artefacts=(("concept_sweep", "table", "one row per (layer, k) with its measures and the recommendation"),),
)
