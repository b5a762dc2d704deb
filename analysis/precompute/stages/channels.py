"""``channels``: the channels that drive each class (over its correctly classified images)
and each group, dataset-wide."""

from __future__ import annotations

import pandas as pd

from analysis.explain.channels import mean_attributions, top_of
from analysis.precompute.stage import Stage


def run(ctx) -> dict:
    attr = ctx.cache.array("channel_attr")
    samples = ctx.cache.table_columns("samples", ["y_class", "y_group", "correct"])
    labels = ctx.run.labels
    n_top = ctx.param("top_channels")
    y, yg = samples["y_class"].to_numpy(), samples["y_group"].to_numpy()
    correct = samples["correct"].to_numpy()
    kc = len(labels.classes)
    # a city's channels over its correctly classified images (all of them when none is)
    targets = [((y == k) & correct if correct[y == k].any() else y == k, k) for k in range(kc)]
    targets += [(yg == g, kc + g) for g in range(len(labels.groups))]
    means = mean_attributions(attr, targets)
    rows = []
    for t, (head, index, name) in enumerate([("city", k, c) for k, c in enumerate(labels.classes)]
                                            + [("group", g, c) for g, c in enumerate(labels.groups)]):
        for rank, (ch, value) in enumerate(top_of(*means[t], n_top)):
            rows.append({"target": name, "head": head, "index": index, "rank": rank,
                         "channel": int(ch), "attribution": float(value)})
    ctx.cache.write_table("top_channels", pd.DataFrame(rows))
    return {"rows": len(rows)}


STAGE = Stage(
    name="channels", order=20, run=run, params=("top_channels",),
    doc="the channels that drive each class and group, dataset-wide",
    reads=("channel_attr", "samples"), writes=("top_channels",),
)
