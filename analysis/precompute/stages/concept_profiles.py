"""``concept_profiles``: where each concept sits in the frame and how often it occurs,
per city and in the other cities (the numbers behind a portrait card)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.concepts.profiles import concept_maxima, mean_maps, presence, prevalence, where_words
from analysis.precompute.stage import Stage


def run(ctx) -> dict:
    maps = ctx.cache.concept_maps()
    samples = ctx.cache.samples()
    classes = list(ctx.run.labels.classes)
    y = samples["y_class"].to_numpy()
    present = presence(concept_maxima(maps), ctx.param("presence_level"))
    own, others = prevalence(present, y, len(classes))
    class_maps = mean_maps(maps, y, len(classes))
    everywhere = mean_maps(maps, np.zeros(len(y), int), 1)[:, 0]
    ctx.cache.write_array("concept_class_maps", class_maps.astype(np.float32))
    rows = []
    for k in range(maps.shape[1]):
        for t, name in enumerate(classes):
            rows.append({"concept": k, "target": name, "share": own[k, t], "others": others[k, t],
                         "where": where_words(class_maps[k, t]), "where_all": where_words(everywhere[k])})
    ctx.cache.write_table("concept_prevalence", pd.DataFrame(rows))
    return {"present": round(float(present.mean()), 4)}


STAGE = Stage(
    name="concept_profiles", order=34, run=run, version=2, params=("presence_level",),
    defaults={"presence_level": 0.5},
    doc="where each concept sits per city (mean map) and how often it occurs there vs elsewhere",
    reads=("concept_maps", "samples"), writes=("concept_class_maps", "concept_prevalence"),
    new_artefacts=(("concept_class_maps", "array", "(concepts, cities, h, w) mean concept map per city"),
                   ("concept_prevalence", "table", "share of each city's images showing each concept")),
)
