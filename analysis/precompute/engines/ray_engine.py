"""The Ray engine: the per-image stage as a Ray Data pipeline.

    shards still to write (from the cache's records)
      → decode + resize each shard's photos       parallel tasks (uint8, a quarter of float32)
      → model in an actor pool                    loaded once per actor; ``num_gpus=1`` per
                                                  actor where the cluster has GPUs
      → each actor writes its shards              into the one cache every node can reach
      → the driver collects the committed records

Where the cluster has no GPUs, the actors decode their own shards instead (``ray_decode``:
"auto", or "actors" / "tasks" to choose): two calls run in each actor at once, one decoding
the next shard while the other holds the model (the local engine's overlap), so no pixels
travel through the object store and no second kind of worker process has to start. On this
2-core machine (5,000 images) decoding tasks spilled the object store to disk and their
worker's start (Python, Ray, PyTorch) delayed the first shard by 9 s.

Faults: Ray Data restarts a lost actor and retries its unfinished shard (actors run with
``max_restarts=-1``, ``max_task_retries=-1``), and a task lost with its node is retried;
a finished shard is never redone (its record is the commit). A rerun after the whole job
was killed starts from the shards without a record.

Everything a remote process needs travels as plain paths and numbers (:class:`WorkSpec`).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time

import numpy as np
import torch

from analysis.allocator import keep_freed_memory, limit_malloc_arenas
from analysis.cluster import data_context, ray_session
from analysis.precompute.engines.forward_work import (
    ForwardWorker,
    PixelReader,
    WorkSpec,
    decode_paths,
)
from analysis.train.runs import open_run


@functools.lru_cache(maxsize=4)
def _reader(run_path: str) -> PixelReader:
    return PixelReader(open_run(run_path))


def decode_shards(batch: dict, run_path: str) -> dict:
    """Ray Data task: ``{"shard", "paths"}`` rows → ``{"shard", "pixels", "shape", "decoder"}``
    (pixels as raw uint8 bytes: a quarter of float32 to ship to the model actors)."""
    reader = _reader(run_path)
    shards, pixels, shapes = [], [], []
    for index, paths in zip(batch["shard"], batch["paths"]):
        x = decode_paths(reader, [str(p) for p in paths])
        shards.append(int(index))
        pixels.append(b"" if x is None else x.numpy().tobytes())
        shapes.append(json.dumps([] if x is None else list(x.shape)))
    return {"shard": np.array(shards), "pixels": np.array(pixels, dtype=object),
            "shape": np.array(shapes, dtype=object),
            "decoder": np.array([json.dumps(process_memory())] * len(shards), dtype=object)}


class InferShards:
    """Ray Data actor: holds the model and writes whole shards into the cache. Given decoded
    pixels (``pixels``), it runs the model; given shard numbers only, it decodes them itself.
    Decoding and writing happen outside the model's lock: where an actor takes two calls at
    once (CPU clusters, decoding in the actors), one call's decoding or writing overlaps the
    other's model, as in the local engine; a GPU actor takes one call at a time."""

    def __init__(self, spec: WorkSpec):
        limit_malloc_arenas()
        keep_freed_memory()
        self.worker = ForwardWorker(spec)
        self.model_lock = threading.Lock()

    def __call__(self, batch: dict) -> dict:
        records = []
        for k, index in enumerate(batch["shard"]):
            if "pixels" in batch:  # decoded by a decoding task
                shape = json.loads(batch["shape"][k])
                pixels = None if not shape else torch.from_numpy(
                    np.frombuffer(batch["pixels"][k], dtype=np.uint8).reshape(shape).copy())
                decoder = [{**json.loads(batch["decoder"][k]), "role": "decode"}]
            else:
                pixels, decoder = self.worker.decode(int(index)), []
            with self.model_lock:  # the model's turn; the writing overlaps the other call's
                started = time.perf_counter()
                computed = self.worker.compute(int(index), pixels)
            record = self.worker.commit(int(index), computed, started)
            record["workers"] = [process_memory("model"), *decoder]
            records.append(json.dumps(record))
        return {"record": np.array(records, dtype=object)}


def process_memory(role: str = "decode") -> dict:
    """This worker process's id, host, peak resident memory and present *private* memory
    (MB; resident minus shared pages — mostly Ray's object store, mapped into every worker
    that reads or writes it): for the manifest."""
    import resource
    import socket

    import psutil

    mem = psutil.Process().memory_info()
    return {"role": role, "pid": os.getpid(), "host": socket.gethostname(),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1),
            "private_mb": round((mem.rss - mem.shared) / 1e6, 1)}


DECODE_MODES = ("auto", "actors", "tasks")


def plan_resources(ray, actors: int | None, decode: str = "auto") -> dict:
    """Actors and their resources on this cluster: one actor per GPU where there are GPUs;
    otherwise CPU actors, each running torch on its share of the cores. ``decode``: where the
    photos are decoded ("auto": in decoding tasks with GPUs, in the actors without)."""
    if decode not in DECODE_MODES:
        raise ValueError(f"ray_decode must be one of {', '.join(DECODE_MODES)}, not {decode!r}")
    total = ray.cluster_resources()
    gpus, cpu_count = int(total.get("GPU", 0)), max(1, int(total.get("CPU", 1)))
    in_actors = decode == "actors" or (decode == "auto" and not gpus)
    if gpus:
        n = actors or gpus
        return {"actors": n, "num_gpus": 1, "num_cpus": 1, "threads": 0, "decode_cpus": 1,
                "decode_in_actors": in_actors}
    n = actors or max(1, cpu_count // 2)
    share = max(1, cpu_count // n)
    if in_actors:
        return {"actors": n, "num_gpus": 0, "num_cpus": share, "threads": share, "decode_cpus": 0,
                "decode_in_actors": True}
    # actors ask for a little less than their share, so the decoding tasks always get a slot
    return {"actors": n, "num_gpus": 0, "num_cpus": max(0.5, share - 0.5), "threads": share,
            "decode_cpus": 0.5, "decode_in_actors": False}


def run(ctx, shards, todo, on_shard) -> None:
    if not todo:
        return
    config = ctx.config
    with ray_session(config.address) as ray, data_context(ray):
        res = plan_resources(ray, config.ray_actors or None, str(config.value("ray_decode", "auto")))
        spec = WorkSpec(str(ctx.run.path.resolve()), str(ctx.dataset.root.resolve()),
                        str(ctx.cache.root.resolve()), config.batch_size, "auto", res["threads"])
        pool = ray.data.ActorPoolStrategy
        if res["decode_in_actors"]:
            ds = ray.data.from_items([{"shard": i} for i in todo], override_num_blocks=len(todo))
            compute = pool(size=res["actors"], max_concurrent_calls_per_actor=2, enable_true_multi_threading=True)
        else:
            # the driver knows which rows the trunk cache covers: their photos are not even read
            planner = ForwardWorker(spec, run=ctx.run, dataset=ctx.dataset, rows=ctx.rows, model=ctx.model)
            items = [{"shard": i, "paths": planner.paths_to_decode(i)} for i in todo]
            ds = ray.data.from_items(items, override_num_blocks=len(items))
            ds = ds.map_batches(decode_shards, fn_kwargs={"run_path": spec.run_path}, batch_size=1,
                                num_cpus=res["decode_cpus"], batch_format="numpy")
            compute = pool(size=res["actors"])
        ds = ds.map_batches(InferShards, fn_constructor_args=(spec,), batch_size=1, compute=compute,
                            num_cpus=res["num_cpus"], num_gpus=res["num_gpus"], batch_format="numpy")
        for row in ds.iter_rows():
            on_shard(json.loads(row["record"]))
