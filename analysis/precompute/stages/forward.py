"""``forward``: one pass over every image — predictions of both heads, pooled features,
target-layer activations, Grad-CAM raw maps for every class of both heads, Grad-CAM
weights and channel attributions (the head's Jacobian, not one backward per class).

Rows the training's trunk cache holds run only the trained layers (``CachedTrunk``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from analysis.explain.gradcam import all_class_cams, cams_from_features
from analysis.explain.trunk_reuse import CachedTrunk
from analysis.precompute.stage import Stage
from analysis.progress import bar

STREAMED = ("class_logits", "group_logits", "features", "activations", "cams", "gradients", "channel_attr")


def run(ctx) -> dict:
    n, labels = ctx.n, ctx.run.labels
    kc, kg = len(labels.classes), len(labels.groups)
    k = kc + kg
    c, h, w = ctx.run.spec.feature_shape(ctx.run.input_size)
    layout = {
        "class_logits": ((n, kc), "float32"),
        "group_logits": ((n, kg), "float32"),
        "features": ((n, c), "float32"),
        "activations": ((n, c, h, w), "float16"),
        "cams": ((n, k, h, w), "float16"),
        "gradients": ((n, k, c), "float16"),
        "channel_attr": ((n, k, c), "float16"),
    }
    streams = {name: ctx.cache.streaming(name, shape, dtype, ctx.key) for name, (shape, dtype) in layout.items()}
    start = min(s.start for s in streams.values())
    reuse = CachedTrunk.for_run(ctx.run, ctx.model, ctx.rows)
    from_cache = 0
    with bar(total=n, initial=start, desc="forward + all-class Grad-CAM", unit="img",
             disable=not ctx.progress) as progress:
        for a, b, x in ctx.image_batches(start, skip=reuse.covers if reuse else None):
            if x is None:  # every row of the batch is in the training's trunk cache
                r = cams_from_features(ctx.model, reuse.features(a, b, ctx.device), keep_features=True)
                from_cache += b - a
            else:
                r = all_class_cams(ctx.model, x, keep_features=True)
            values = {
                "class_logits": r.class_logits, "group_logits": r.group_logits,
                "features": r.pooled, "activations": r.features, "cams": r.raw,
                "gradients": r.gradients, "channel_attr": r.channel_attr,
            }
            for name, stream in streams.items():
                stream.write(a, values[name].float().cpu().numpy().astype(stream.dtype))
            progress.update(b - a)
    for stream in streams.values():
        stream.finish()
    write_samples(ctx)
    return {"images": n, "feature_map": [c, h, w], "from_trunk_cache": from_cache,
            **({"trunk_cache": reuse.source} if reuse else {})}


def write_samples(ctx) -> pd.DataFrame:
    """The samples table: one row per image with both heads' predictions and confidence."""
    labels = ctx.run.labels
    pc = torch.from_numpy(np.array(ctx.cache.array("class_logits"))).softmax(1).numpy()
    pg = torch.from_numpy(np.array(ctx.cache.array("group_logits"))).softmax(1).numpy()
    y_class, y_group = labels.encode(ctx.rows)
    pred_c, pred_g = pc.argmax(1), pg.argmax(1)
    top2 = np.sort(pc, axis=1)[:, -2:] if pc.shape[1] > 1 else np.concatenate([pc * 0, pc], 1)
    df = ctx.rows[["id", "path", "class", "group", "split"]].copy()
    df.insert(0, "row", np.arange(ctx.n))
    df["y_class"], df["y_group"] = y_class, y_group
    df["pred_class"] = [labels.classes[i] for i in pred_c]
    df["pred_group"] = [labels.groups[i] for i in pred_g]
    df["p_pred"] = pc.max(1)
    df["p_true"] = pc[np.arange(ctx.n), y_class]
    df["p_group"] = pg.max(1)
    df["margin"] = top2[:, 1] - top2[:, 0]
    df["correct"] = pred_c == y_class
    df["correct_group"] = pred_g == y_group
    ctx.cache.write_table("samples", df)
    ctx.cache.write_array("class_probs", pc.astype(np.float32))
    ctx.cache.write_array("group_probs", pg.astype(np.float32))
    return df


STAGE = Stage(
    name="forward", order=0, run=run,
    doc="predictions, pooled features, activations, Grad-CAM of every class, channel attributions",
    reads=(), writes=(*STREAMED, "samples", "class_probs", "group_probs"),
)
