"""``concept_stability``: refit the concepts on bootstrap resamples of the training images
and score how well each one comes back (an unstable concept never leads a portrait)."""

from __future__ import annotations

import pandas as pd

from analysis.explain.concepts.stability import concept_stability, refit_with
from analysis.precompute.stage import Stage
from analysis.precompute.stages.concepts import load_basis


def run(ctx) -> dict:
    basis = load_basis(ctx.cache)
    split = ctx.rows["split"].to_numpy()
    train = (split == "train").nonzero()[0]
    result = concept_stability(ctx.cache.activations(), basis.components,
                               indices=train if len(train) else None, refits=ctx.param("stability_refits"),
                               max_rows=ctx.param("stability_rows"), seed=ctx.param("seed"),
                               threshold=ctx.param("stability_threshold"), progress=ctx.progress,
                               fit=refit_with(basis.meta.get("fit", "full")))
    table = pd.DataFrame({"concept": range(basis.n_concepts), "stability": result.score,
                          "came_back": result.came_back, "refits": len(result.similarity),
                          "stable": result.stable})
    for r, sims in enumerate(result.similarity):
        table[f"refit_{r}"] = sims
    ctx.cache.write_table("concept_stability", table)
    return {"stable": int(result.stable.sum()), "concepts": basis.n_concepts,
            "fit": refit_with(basis.meta.get("fit", "full"))}


STAGE = Stage(
    name="concept_stability", order=33, run=run,
    params=("stability_refits", "stability_rows", "stability_threshold", "seed"),
    defaults={"stability_refits": 5, "stability_rows": 8_000, "stability_threshold": 0.6},
    doc="how often each concept comes back when the concepts are refitted on resampled images",
    reads=("activations", "concept_basis"), writes=("concept_stability",),
    new_artefacts=(("concept_stability", "table", "in how many refits each concept came back, and their cosines"),),
)
