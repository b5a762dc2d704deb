"""``channels``: the channels that drive each class (over its correctly classified images)
and each group, dataset-wide."""

from __future__ import annotations

import pandas as pd

from analysis.explain.channels import top_channels, top_group_channels
from analysis.precompute.stage import Stage


def run(ctx) -> dict:
    attr = ctx.cache.array("channel_attr")
    samples = ctx.cache.table("samples")
    labels = ctx.run.labels
    n_top = ctx.param("top_channels")
    y, yg = samples["y_class"].to_numpy(), samples["y_group"].to_numpy()
    correct = samples["correct"].to_numpy()
    rows = []
    for k, cls in enumerate(labels.classes):
        mask = correct if correct[y == k].any() else None
        for rank, (ch, value) in enumerate(top_channels(attr, y, k, n_top, only_correct_mask=mask)):
            rows.append({"target": cls, "head": "city", "index": k, "rank": rank,
                         "channel": int(ch), "attribution": float(value)})
    for g, grp in enumerate(labels.groups):
        for rank, (ch, value) in enumerate(top_group_channels(attr, yg, g, len(labels.classes), n_top)):
            rows.append({"target": grp, "head": "group", "index": g, "rank": rank,
                         "channel": int(ch), "attribution": float(value)})
    ctx.cache.write_table("top_channels", pd.DataFrame(rows))
    return {"rows": len(rows)}


STAGE = Stage(
    name="channels", order=20, run=run, params=("top_channels",),
    doc="the channels that drive each class and group, dataset-wide",
    reads=("channel_attr", "samples"), writes=("top_channels",),
)
