"""The local engine: this process computes and writes the missing shards one after another,
decoding the next shard's photos in a background thread while the model runs on this one
(PIL's decoding and resizing release the GIL), so decoding costs little wall time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from analysis.precompute.engines.forward_work import ForwardWorker, WorkSpec


def run(ctx, shards, todo, on_shard) -> None:
    if not todo:
        return
    spec = WorkSpec(str(ctx.run.path), str(ctx.dataset.root), str(ctx.cache.root), ctx.config.batch_size,
                    str(ctx.device))
    worker = ForwardWorker(spec, run=ctx.run, dataset=ctx.dataset, rows=ctx.rows, model=ctx.model)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode") as pool:
        pending = pool.submit(worker.decode, todo[0])
        for k, index in enumerate(todo):
            pixels = pending.result()
            if k + 1 < len(todo):
                pending = pool.submit(worker.decode, todo[k + 1])
            on_shard(worker.write(index, pixels))
