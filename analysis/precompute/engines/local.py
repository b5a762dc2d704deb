"""The local engine: this process computes and writes the missing shards one after another."""

from __future__ import annotations

from analysis.precompute.engines.forward_work import ForwardWorker, WorkSpec


def run(ctx, shards, todo, on_shard) -> None:
    spec = WorkSpec(str(ctx.run.path), str(ctx.dataset.root), str(ctx.cache.root), ctx.config.batch_size,
                    str(ctx.device))
    worker = ForwardWorker(spec, run=ctx.run, dataset=ctx.dataset, rows=ctx.rows, model=ctx.model)
    for index in todo:
        on_shard(worker.write(index))
