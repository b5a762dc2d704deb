"""``ood``: each image's distance to the training images in the model's feature space, and
the threshold, calibrated on the validation split, above which a photo is unlike any
training photo (the New image page's and ``streetlens predict``'s warning)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.ood import Calibration, calibrate, scores_from_neighbours
from analysis.precompute.stage import Stage
from analysis.store import batched


def run(ctx) -> dict:
    samples = ctx.cache.samples()
    near = ctx.cache.neighbor_dist()
    k = int(min(ctx.param("ood_k"), near.shape[1]))
    scores = np.concatenate([scores_from_neighbours(near[a:b], k) for a, b in batched(len(near), 65_536)]
                            or [np.zeros(0)])
    cal = calibrate(scores, samples["split"].to_numpy(), k=k, percentile=ctx.param("ood_percentile"))
    ctx.cache.write_table("ood", pd.DataFrame({"row": samples["row"], "score": scores,
                                               "flagged": cal.flags(scores)}))
    ctx.cache.write_table("ood_calibration", pd.DataFrame([cal.record()]))
    test = samples["split"].to_numpy() == "test"
    return {"threshold": round(cal.threshold, 4), "calibrated_on": cal.calibrated_on,
            "test_flagged": round(float(cal.flags(scores[test]).mean()), 4) if test.any() else None}


def load_calibration(cache) -> Calibration | None:
    """The run's calibration, or None before the stage has run."""
    if not cache.has("ood_calibration"):
        return None
    return Calibration.from_record(cache.table("ood_calibration").iloc[0].to_dict())


STAGE = Stage(
    name="ood", order=12, run=run, params=("ood_k", "ood_percentile"),
    defaults={"ood_k": 8, "ood_percentile": 99.0},
    doc="distance of every image to the training images, and the calibrated out-of-distribution threshold",
    reads=("neighbor_dist", "samples"), writes=("ood", "ood_calibration"),
    new_artefacts=(("ood", "table", "each image's mean cosine distance to its nearest training images"),
                   ("ood_calibration", "table", "the out-of-distribution threshold and how it was set")),
)
