"""The feature visualisation of an atlas cell: lucent optimises an image towards the cell's
mean activation (a "direction" objective at the run's visualised layer, Activation
Atlas's dot × cosine), with the same model, layer and settings as every other picture of
the run (:mod:`analysis.precompute.featvis_on_demand`). Rendered on demand, saved in the
cache's ``atlas_featvis`` folder under a name that carries a digest of the direction and
the settings — a recomputed atlas or other settings never show a stale picture (and the
``atlas`` stage empties the folder when it runs again)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from analysis.precompute import featvis_on_demand as fod
from analysis.precompute.atlas_views import cell_direction
from analysis.store import RunCache, atomic_path

if TYPE_CHECKING:
    import torch


def picture_path(cache: RunCache, cell: int, direction: np.ndarray, settings: fod.FeatvisSettings) -> Path:
    digest = hashlib.sha256(np.ascontiguousarray(direction, np.float32).tobytes()
                            + repr(settings).encode()).hexdigest()[:12]
    return cache.atlas_featvis_path(cell, digest)


def existing(cache: RunCache, cell: int) -> Path | None:
    """Cell ``cell``'s picture when it has been rendered (for the current atlas and settings)."""
    path = picture_path(cache, cell, cell_direction(cache, cell), fod.FeatvisSettings.for_cache(cache))
    return path if fod._usable(path, None) else None


def ensure_cell_picture(cache: RunCache, run, model_fn: Callable[[], torch.nn.Module], cell: int,
                        on_step: fod.OnStep | None = None) -> Path:
    """Cell ``cell``'s feature visualisation, rendered now when not on disk; its file."""
    direction = cell_direction(cache, cell)
    settings = fod.FeatvisSettings.for_cache(cache)
    path = picture_path(cache, cell, direction, settings)
    if fod._usable(path, None):
        return path
    if not np.isfinite(direction).all() or not np.any(direction):
        raise ValueError(f"atlas cell {cell} has no mean activation to visualise")
    picture = fod.render(model_fn(), run, [("direction", direction)], settings, on_step=on_step)[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        picture.save(tmp, "PNG")
    return path
