"""``shortcuts``: evidence that the model may name the city without looking at the street
— fixed in the frame, in the files' properties, or in near-duplicates across the split —
as flags with their numbers and where to look (``streetlens shortcuts RUN``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.shortcuts import duplicates, flags, frame, properties
from analysis.precompute.stage import Stage


def run(ctx) -> dict:
    samples = ctx.cache.samples()
    classes = list(ctx.run.labels.classes)
    y = samples["y_class"].to_numpy()
    peaks = frame.peak_regions(frame.own_class_cams(ctx.cache.cams(), y))
    frames = frame.frame_table(peaks, y, classes, samples["correct"].to_numpy(bool))
    ctx.cache.write_table("frame_evidence", frames)
    found = flags.frame_flag_rows(frame.frame_flags(frames), ctx.cache.name)

    if ctx.cache.has("concept_effects") and ctx.cache.has("concept_class_maps"):
        from analysis.precompute.concept_views import concept_names, effects

        stab = ctx.cache.table("concept_stability").set_index("concept")["stable"].to_dict() \
            if ctx.cache.has("concept_stability") else {}
        found += flags.concept_flag_rows(effects(ctx.cache), ctx.cache.array("concept_class_maps"), classes,
                                         concept_names(ctx.cache), stab, ctx.cache.name, frame.concept_region_share)

    props = properties.properties_table([ctx.dataset.image_path(p) for p in ctx.rows["path"]])
    ctx.cache.write_table("image_properties", props.assign(row=np.arange(len(props))))
    result = properties.predictability(props, y, seed=ctx.param("seed"))
    ctx.cache.write_table("property_scores", pd.DataFrame(
        [{"property": "all (logistic regression)", "balanced_accuracy": result["balanced_accuracy"],
          "chance": result["chance"], "p_value": result["p_value"]}]
        + [{"property": n, "balanced_accuracy": s, "chance": result["chance"], "p_value": np.nan}
           for n, s in result["by_property"]]))
    found += flags.property_flag_rows(result, ctx.cache.name)

    rows = ctx.rows.reset_index(drop=True)
    dups = duplicates.cross_split_duplicates(rows, ctx.param("duplicate_bits"))
    ctx.cache.write_table("near_duplicates", dups)
    found += flags.duplicate_flag_rows(dups, int(rows["split"].isin(["val", "test"]).sum()), ctx.cache.name)
    ctx.cache.write_table("shortcut_flags", flags.flags_frame(found))
    return {"flags": len(found), "kinds": sorted({f.kind for f in found})}


STAGE = Stage(
    name="shortcuts", order=60, run=run, version=3, params=("duplicate_bits", "seed"),
    defaults={"duplicate_bits": duplicates.THRESHOLD},
    doc="shortcut flags: evidence fixed in the frame, class predictable from file properties, "
        "near-duplicates across the split",
    reads=("samples", "cams", "concept_effects", "concept_class_maps", "concept_stability",
           "concept_name_candidates"),
    writes=("frame_evidence", "image_properties", "property_scores", "near_duplicates", "shortcut_flags"),
    new_artefacts=(("frame_evidence", "table", "per city and border region: share of Grad-CAM peaks there"),
                   ("image_properties", "table", "non-content properties of every image file"),
                   ("property_scores", "table", "how well file properties predict the city vs chance"),
                   ("near_duplicates", "table", "val/test photos with a near-duplicate in training"),
                   ("shortcut_flags", "table", "the shortcut flags: sentence, what to look at, link")),
)
