"""Pixel-level attribution maps computed on demand, one image at a time, and kept on disk.

Grad-CAM for every class is precomputed (``cams.npy``); pixel-level methods (guided
backprop, guided Grad-CAM, integrated gradients) cost one to fifty backward passes per
image and target, too much for the whole dataset. The Sample page computes them when asked,
through the attribution-method registry (``analysis.explain.methods.get_method``), and stores
each map under

    cache/<run>/ondemand/<method>/<image id>_<head>_<index>.npy      float32 (H, W)

written to a temporary name and renamed (atomic: a reader never sees half a map), so the
second view — in any session — is a file read. ``analysis`` resetting a stale cache removes
them with the rest.

The core (``map_path``, ``load_cached``, ``compute_map``, ``get_map``) has no Streamlit
calls; ``st_get_map`` wraps ``get_map`` with a progress bar for the pages.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from analysis.fileio import atomic_path

FOLDER = "ondemand"
METHODS: tuple[str, ...] = ("guided_backprop", "guided_gradcam", "integrated_gradients")
"""Methods the Sample page offers (any registered method works with the functions here)."""

IG_STEPS = 50
IG_BATCH = 10
DISPLAY = {"guided_backprop": "magnitude", "guided_gradcam": "magnitude",
           "integrated_gradients": "signed"}
"""How each map is best shown by default: guided maps as magnitude (their usual picture),
integrated gradients signed (red = for the target, blue = against)."""

LABELS = {"guided_backprop": "Guided backprop", "guided_gradcam": "Guided Grad-CAM",
          "integrated_gradients": "Integrated gradients"}
"""UI names (the registry's labels, here so that showing the menu does not import captum)."""
ABOUT = {
    "guided_backprop": "Gradients with negative values zeroed at every ReLU (Springenberg et al., "
                       "2015): sharp edges, but largely class-insensitive (Adebayo et al., 2018).",
    "guided_gradcam": "Guided backprop × Grad-CAM (Selvaraju et al., 2017): pixel detail inside "
                      "the class-discriminative regions.",
    "integrated_gradients": f"Gradients integrated along {IG_STEPS} steps from a black image to "
                            "this one (Sundararajan et al., 2017); the map adds up to the logit "
                            "difference.",
}
COST = {"integrated_gradients": "about 5–20 s on a CPU"}
"""What a user waits for the first time (then it is read from disk)."""

Progress = Callable[[float, str], None]


def map_path(cache_root: Path | str, method: str, image_id: str, head: str, index: int) -> Path:
    """Where the map of ``method`` for (``head``, ``index``) of image ``image_id`` lives;
    ``cache_root`` is the run's cache folder (``cache/<run>``)."""
    if head not in ("city", "group"):
        raise ValueError(f"head must be 'city' or 'group', got {head!r}")
    safe = str(image_id).replace("/", "_")
    return Path(cache_root) / FOLDER / method / f"{safe}_{head}_{int(index)}.npy"


def load_cached(cache_root: Path | str, method: str, image_id: str, head: str, index: int
                ) -> np.ndarray | None:
    """The stored map, or None when it has not been computed (or cannot be read)."""
    p = map_path(cache_root, method, image_id, head, index)
    if not p.is_file():
        return None
    try:
        return np.load(p)
    except (OSError, ValueError):
        return None


def save_map(path: Path, values: np.ndarray) -> None:
    """Write ``values`` as ``.npy`` atomically (temporary name in the folder, then rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(values, dtype=np.float32))


def method_options(run, method: str) -> dict:
    """Constructor options of ``method`` for ``run`` (integrated gradients: a black
    baseline in the run's normalisation, ``IG_STEPS`` steps)."""
    if method == "integrated_gradients":
        return {"baseline": "black", "mean_std": run.spec.mean_std(run.weights), "n_steps": IG_STEPS,
                "internal_batch_size": IG_BATCH}
    return {}


def expected_passes(method: str) -> int:
    """About how many forward passes a method makes for one image (for the progress bar)."""
    if method == "integrated_gradients":
        return math.ceil(IG_STEPS / IG_BATCH) + 1
    return {"guided_gradcam": 2, "occlusion": 50}.get(method, 1)


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


def preprocess(run, image_path: Path | str, device: torch.device | str = "cpu") -> torch.Tensor:
    """The image as the model sees it: (1, 3, S, S), normalised, on ``device``."""
    from analysis.train.data import load_rgb, make_transform

    tf = make_transform(run.spec, run.weights, "none", run.info["backbone"]["input_size"])
    return tf(load_rgb(Path(image_path)))[None].to(device)


def compute_map(run, model: torch.nn.Module, image_path: Path | str, method: str, head: str, index: int,
                progress: Progress | None = None) -> np.ndarray:
    """One attribution map (H, W) float32 at the model's input resolution, via the registry."""
    from analysis.explain.methods import get_method

    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = preprocess(run, image_path, device)
    if param is not None and param.is_floating_point():
        x = x.to(param.dtype)
    explainer = get_method(method, model, target_layer=run.spec.target_layer,
                           **method_options(run, method))
    total = expected_passes(method)
    tick = (lambda n: progress(min(0.95, n / total), f"{explainer.label}: pass {n} of ~{total}")) \
        if progress else None
    with _count_forwards(model, tick):
        maps = explainer.attribute(x, (head, int(index)))
    return maps[0].detach().float().cpu().numpy()


def get_map(cache_root: Path | str, run, model: torch.nn.Module | Callable[[], torch.nn.Module],
            image_id: str, image_path: Path | str, method: str, head: str, index: int,
            progress: Progress | None = None) -> tuple[np.ndarray, bool]:
    """``(map, from_cache)``: the stored map if there is one, else computed, stored
    atomically, and returned. ``model`` may be a callable returning the model, so that a
    cached map never loads it."""
    cached = load_cached(cache_root, method, image_id, head, index)
    if cached is not None:
        return cached, True
    if callable(model) and not isinstance(model, torch.nn.Module):
        model = model()
    values = compute_map(run, model, image_path, method, head, index, progress)
    save_map(map_path(cache_root, method, image_id, head, index), values)
    return values, False


# ------------------------------------------------------------------------ Streamlit
def st_get_map(cache_root: Path | str, run, model_fn: Callable[[], torch.nn.Module], image_id: str,
               image_path: Path | str, method: str, head: str, index: int) -> tuple[np.ndarray, bool]:
    """``get_map`` with a Streamlit progress bar while it computes (gone when done)."""
    import streamlit as st

    cached = load_cached(cache_root, method, image_id, head, index)
    if cached is not None:
        return cached, True
    bar = st.progress(0.0, text="Loading the model …")

    def progress(frac: float, text: str) -> None:
        bar.progress(float(frac), text=text)

    try:
        model = model_fn()
        bar.progress(0.02, text="Computing …")
        values, from_cache = get_map(cache_root, run, model, image_id, image_path, method, head, index,
                                     progress)
    finally:
        bar.empty()
    return values, from_cache
