"""``class_means``: every city's mean Grad-CAM (over its correctly classified images) and
its mean photo — the Atlas's "where the model looks, per city", without a page ever
scanning every map or opening dozens of photos."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.class_means import mean_class_cams, mean_photo, photo_sample
from analysis.precompute.stage import Stage

PHOTO_SIDE = 180  # the mean photos' side (px): the Atlas's tile size
PHOTOS_PER_CLASS = 32


def run(ctx) -> dict:
    samples = ctx.cache.samples()
    classes = ctx.run.labels.classes
    maps, counts, used_all = mean_class_cams(ctx.cache.cams(), samples["y_class"].to_numpy(),
                                             samples["correct"].to_numpy(), len(classes))
    ctx.cache.write_array("mean_cams", maps)
    ctx.cache.write_table("mean_cam_counts", pd.DataFrame(
        {"class": list(classes), "images": counts, "all_images": used_all}))
    photos = [mean_photo([ctx.dataset.image_path(p) for p in photo_sample(samples, cls, PHOTOS_PER_CLASS)["path"]],
                         PHOTO_SIDE) for cls in classes]
    ctx.cache.write_array("mean_photos", np.stack(photos))
    return {"classes": len(classes)}


STAGE = Stage(
    name="class_means", order=15, run=run,
    doc="each city's mean Grad-CAM over its correctly classified images, and its mean photo",
    reads=("cams", "samples"), writes=("mean_cams", "mean_cam_counts", "mean_photos"),
    new_artefacts=(("mean_cams", "array", "(classes, h, w) mean normalised Grad-CAM per city"),
                   ("mean_cam_counts", "table", "how many images each mean Grad-CAM averages"),
                   ("mean_photos", "array", "(classes, S, S, 3) each city's mean photo")),
)
