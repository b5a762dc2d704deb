"""Pixel-level maps computed on demand, one image at a time, and kept in the run's cache.

Grad-CAM for every class is precomputed; pixel-level methods (guided backprop, guided
Grad-CAM, integrated gradients) cost one to fifty backward passes per image and target,
too much for the whole dataset. The Sample page asks for one when a user wants it: the
method comes from the registry (every method whose card declares ``on_demand``), the map is
written atomically under the cache's ``ondemand`` artefact, so the second view — in any
session — is a file read, and a reset of a stale cache removes it with the rest.

Importing this module does not import PyTorch: the Sample page lists the methods and reads
stored maps on every visit; ``compute_map`` (and ``get_map`` on a cache miss) import it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.explain.registry import get_method, method_class, on_demand_methods
from analysis.explain.targets import Target
from analysis.store import RunCache, atomic_path

if TYPE_CHECKING:
    import torch

Progress = Callable[[float, str], None]

__all__ = ["compute_map", "get_map", "load_cached", "method_options", "on_demand_methods", "save_map"]


def method_options(run, method: str) -> dict:
    """Constructor options of ``method`` on demand for ``run`` (the run's normalisation for
    methods whose baseline needs it)."""
    cls = method_class(method)
    options = dict(cls.demand_options)
    if "mean_std" in inspect.signature(cls.__init__).parameters:
        options["mean_std"] = run.spec.mean_std(run.weights)
    return options


def load_cached(cache: RunCache, method: str, image_id: str, target: Target) -> np.ndarray | None:
    """The stored map, or None when it has not been computed (or cannot be read)."""
    p = cache.ondemand_path(method, image_id, target.head, target.index)
    if not p.is_file():
        return None
    try:
        return np.load(p)
    except (OSError, ValueError):
        return None


def save_map(path: Path, values: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(values, dtype=np.float32))


@contextmanager
def _count_forwards(model: torch.nn.Module, callback: Callable[[int], None] | None):
    """Call ``callback(n)`` after each forward pass of ``model`` (a hook registered before
    the attribution session, removed here)."""
    if callback is None:
        yield
        return
    calls = [0]

    def hook(*_):
        calls[0] += 1
        callback(calls[0])

    handle = model.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def compute_map(run, model: torch.nn.Module, image_path: Path | str, method: str, target: Target,
                progress: Progress | None = None) -> np.ndarray:
    """One attribution map (H, W) float32 at the model's input resolution."""
    import torch

    from analysis.train.data import load_rgb

    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = run.eval_transform()(load_rgb(Path(image_path)))[None].to(device)
    if param is not None and param.is_floating_point():
        x = x.to(param.dtype)
    options = method_options(run, method)
    explainer = get_method(method, model, target_layer=run.spec.target_layer, **options)
    total = method_class(method).passes(options)
    tick = (lambda n: progress(min(0.95, n / total), f"{explainer.label}: pass {n} of ~{total}")) \
        if progress else None
    with _count_forwards(model, tick):
        maps = explainer.attribute(x, target)
    return maps[0].detach().float().cpu().numpy()


def get_map(cache: RunCache, run, model: torch.nn.Module | Callable[[], torch.nn.Module], image_id: str,
            image_path: Path | str, method: str, target: Target,
            progress: Progress | None = None) -> tuple[np.ndarray, bool]:
    """``(map, from_cache)``: the stored map if there is one, else computed, stored
    atomically, and returned. ``model`` may be a callable returning the model, so that a
    cached map never loads it."""
    cached = load_cached(cache, method, image_id, target)
    if cached is not None:
        return cached, True
    import torch

    if callable(model) and not isinstance(model, torch.nn.Module):
        model = model()
    values = compute_map(run, model, image_path, method, target, progress)
    save_map(cache.ondemand_path(method, image_id, target.head, target.index), values)
    return values, False
