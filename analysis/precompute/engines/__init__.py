"""Engines: where the per-image stage runs. One registry, one shard format.

``local``  this process, shard after shard (no Ray needed);
``ray``    a Ray Data pipeline: photos decoded in parallel tasks, the model in an actor
           pool (one model per actor; a GPU per actor where there are GPUs), every actor
           writing its shards into the same cache.

Each engine is ``run(ctx, shards, todo, on_shard)``: write shards ``todo`` of ``shards``
and call ``on_shard(record)`` as each is committed. Adding an engine is adding a module
and a line here.
"""

from __future__ import annotations

from collections.abc import Callable

ENGINES: dict[str, str] = {
    "local": "analysis.precompute.engines.local",
    "ray": "analysis.precompute.engines.ray_engine",
}


def engine(name: str) -> Callable:
    """The ``run`` function of engine ``name`` (imported on use: Ray only when asked for)."""
    import importlib

    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    return importlib.import_module(ENGINES[name]).run
