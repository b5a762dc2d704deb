"""``forward``: one pass over every image — predictions of both heads, pooled features,
target-layer activations, Grad-CAM raw maps for every class of both heads, Grad-CAM
weights and channel attributions (the head's Jacobian, not one backward per class).

Written shard by shard (:mod:`analysis.store.shards`) by the chosen engine
(:mod:`analysis.precompute.engines`: this process, or a Ray cluster); the same shards
either way. Shards already committed are kept: a killed analysis resumes, and a damaged
shard found by the runner's check is the only one computed again.
"""

from __future__ import annotations

import time

from analysis.precompute.engines import engine
from analysis.precompute.engines.forward_work import ARRAYS, TABLES, forward_layout
from analysis.precompute.engines.forward_work import STAGE as NAME
from analysis.precompute.stage import Stage
from analysis.progress import bar


def run(ctx) -> dict:
    layout = forward_layout(ctx.run, ctx.n, ctx.cache.shard_rows)
    made_from = {k: ctx.key[k] for k in ("model_fingerprint", "dataset_fingerprint")}
    shards = ctx.cache.shard_set(NAME, layout, made_from)
    shards.prepare()
    todo = shards.missing()
    done_rows = ctx.n - sum(b - a for a, b in map(layout.bounds, todo))
    from_cache, folded, workers = 0, 0, {}
    started, first = time.perf_counter(), []  # (seconds, rows) when the first shard came back
    with bar(total=ctx.n, initial=done_rows, desc=f"forward + all-class Grad-CAM ({ctx.config.engine})",
             unit="img", disable=not ctx.progress) as progress:
        def on_shard(record: dict) -> None:
            nonlocal from_cache, folded
            from_cache += record.get("from_trunk_cache", 0)
            folded = max(folded, record.get("batchnorms_folded", 0))
            for w in record.get("workers", []):  # each worker process's peak memory (Ray)
                key = f"{w['role']} {w['host']}:{w['pid']}"
                seen = workers.setdefault(key, {"peak_mb": 0.0, "private_mb": 0.0})
                for k in seen:
                    seen[k] = max(seen[k], w.get(k, 0.0))
            a, b = record["rows"]
            if not first:
                first.append((time.perf_counter() - started, b - a))
            progress.update(b - a)

        engine(ctx.config.engine)(ctx, shards, todo, on_shard)
    pace = throughput(first, time.perf_counter() - started, ctx.n - done_rows)
    records = shards.finish()
    c, h, w = layout.arrays["activations"][0][1:]
    return {"images": ctx.n, "feature_map": [c, h, w], "from_trunk_cache": from_cache, "batchnorms_folded": folded,
            "engine": ctx.config.engine, "shards": shard_summary(layout, records), **pace,
            **({"worker_peak_mb": workers} if workers else {})}


def throughput(first: list[tuple[float, int]], seconds: float, images: int) -> dict:
    """How long the engine took to return its first shard (starting a cluster and its
    workers, loading the model) and its pace after that (images per second): a Ray run's
    start-up is paid once, its pace is what a larger dataset gets."""
    if not first or images <= first[0][1] or seconds <= first[0][0]:
        return {}
    t_first, rows = first[0]
    return {"first_shard_s": round(t_first, 2), "steady_img_per_s": round((images - rows) / (seconds - t_first), 1)}


def shard_summary(layout, records: list[dict]) -> dict:
    """What the manifest lists: every shard's rows and files (size, CRC) and its origin."""
    return {"rows": layout.rows, "count": layout.count, "arrays": list(layout.arrays),
            "tables": list(layout.tables),
            "list": [{"i": r["index"], "rows": r["rows"], "files": r["files"], "made_from": r["made_from"]}
                     for r in records]}


STAGE = Stage(
    name=NAME, order=0, run=run,
    doc="predictions, pooled features, activations, Grad-CAM of every class, channel attributions",
    reads=(), writes=(*ARRAYS, *TABLES), version=2,
)
