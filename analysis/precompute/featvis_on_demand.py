"""Feature visualisations of a run, rendered by the ``featvis`` stage or when a page needs
one the stage did not render — with the same model, layer and settings either way.

The settings are the cache manifest's record of the ``featvis`` stage (what rendered the
pictures already there), else :class:`AnalyzeConfig`'s defaults. Every picture goes to
``cache.featvis_path(kind, index)``, written atomically: the next visit, any other
session and the exports read the file; a rerun of the stage with other settings removes
them with the rest of its artefacts.

Quality (:mod:`analysis.explain.featvis_quality`): each unit's picture against the unit's
strongest dataset images, read from the cached pooled features.

PyTorch and lucent are imported by the functions that render: every dashboard page imports
this module (for ``missing`` and the settings) and most never render a picture.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from analysis.precompute.config import AnalyzeConfig
from analysis.store import RunCache, atomic_path

if TYPE_CHECKING:
    import torch

    from analysis.explain.featvis import ObjectiveSpec

BATCH = 8  # objectives per optimisation
SAMPLE_CHANNELS = 8
"""Channels the Sample page's building blocks show for an image (the ``featvis`` stage
renders its first image's ahead)."""
Item = tuple[str, int]  # ("concept", k) or ("channel", c)
OnStep = Callable[[int, int], None]
STAGE = "featvis"
# what a cache rendered before these were parameters was rendered with
LEGACY = {"featvis_param": "fft", "featvis_transforms": "standard"}


@dataclass(frozen=True)
class FeatvisSettings:
    size: int
    steps: int
    lr: float
    param: str
    transforms: str
    precision: str
    seed: int

    @classmethod
    def from_values(cls, value: Callable[[str], object]) -> FeatvisSettings:
        return cls(size=int(value("featvis_size")), steps=int(value("featvis_steps")),
                   lr=float(value("featvis_lr")), param=str(value("featvis_param")),
                   transforms=str(value("featvis_transforms")),
                   precision=str(value("featvis_precision")), seed=int(value("seed")))

    @classmethod
    def for_cache(cls, cache: RunCache) -> FeatvisSettings:
        """The settings the cache's pictures were rendered with (its manifest's ``featvis``
        record), else the defaults of ``streetlens analyze``."""
        record = cache.stage_record(STAGE)
        params = record.get("params") or {}
        defaults = AnalyzeConfig()
        if record:
            params = {**LEGACY, **params}
        return cls.from_values(lambda k: params[k] if k in params else defaults.value(k))


def objective(cache: RunCache, item: Item, components: np.ndarray | None = None) -> ObjectiveSpec:
    """What the picture of ``item`` optimises: a channel, or a concept's direction (from
    ``components``, else the cache's concept basis)."""
    kind, index = item
    if kind == "channel":
        return ("channel", int(index))
    if kind == "concept":
        if components is None:
            components = cache.read_concept_basis()[0]
        if not 0 <= int(index) < len(components):
            raise ValueError(f"concept {index} out of range: the run has {len(components)} concepts")
        return ("direction", np.asarray(components[int(index)], np.float32))
    raise ValueError(f"feature visualisations are of a 'concept' or a 'channel', not {kind!r}")


def render(model: torch.nn.Module, run, objectives: Sequence[ObjectiveSpec], settings: FeatvisSettings,
           device: torch.device | str | None = None, on_step: OnStep | None = None) -> list[Image.Image]:
    """The pictures of ``objectives`` at the run's visualised layer, ``BATCH`` per
    optimisation, with ``settings``."""
    import torch

    from analysis.explain.featvis import render_features
    from analysis.nets.precision import backward_precision

    first = next(model.parameters(), None)
    device = torch.device(device) if device is not None else (first.device if first is not None else
                                                               torch.device("cpu"))
    precision = backward_precision(settings.precision, model, device)
    return render_features(
        model, run.spec.visualised_layer, list(objectives), size=settings.size, steps=settings.steps,
        lr=settings.lr, param=settings.param, transforms=settings.transforms, seed=settings.seed,
        batch=BATCH, mean_std=run.spec.mean_std(run.weights), device=device, precision=precision,
        progress=False, on_step=on_step)


def save(cache: RunCache, item: Item, picture: Image.Image) -> Path:
    target = cache.featvis_path(*item)
    with atomic_path(target) as tmp:
        picture.save(tmp, "PNG")
    return target


def _usable(path: Path, size: int | None) -> bool:
    """A picture on disk that opens (and is ``size`` px square when given)."""
    if not path.is_file():
        return False
    if size is None:
        return True
    try:
        with Image.open(path) as im:
            return im.size == (size, size)
    except OSError:  # truncated or not an image: render it again
        return False


def missing(cache: RunCache, items: Sequence[Item], size: int | None = None) -> list[Item]:
    """The items without a usable picture on disk (with ``size``: also those that do not
    open or have another size), each once, in order."""
    seen: list[Item] = []
    for kind, index in items:
        item = (kind, int(index))
        if item not in seen and not _usable(cache.featvis_path(*item), size):
            seen.append(item)
    return seen


def ensure_pictures(cache: RunCache, run, model_fn: Callable[[], torch.nn.Module], items: Sequence[Item],
                    on_step: OnStep | None = None) -> dict[Item, Path]:
    """item → its picture's file; those not on disk are rendered now (with the cache's
    settings, one optimisation per ``BATCH`` of them) and saved. ``model_fn`` is only
    called when something must be rendered; ``on_step(done, total)`` follows the steps."""
    todo = missing(cache, items)
    if todo:
        settings = FeatvisSettings.for_cache(cache)
        components = cache.read_concept_basis()[0] if any(k == "concept" for k, _ in todo) else None
        objectives = [objective(cache, item, components) for item in todo]
        model = model_fn()
        total = -(-len(todo) // BATCH) * settings.steps  # one optimisation per batch
        for start in range(0, len(todo), BATCH):
            chunk = todo[start:start + BATCH]

            def step(done: int, _: int, offset: int = start // BATCH * settings.steps) -> None:
                if on_step is not None:
                    on_step(offset + done, total)

            pictures = render(model, run, objectives[start:start + BATCH], settings, on_step=step)
            for item, picture in zip(chunk, pictures):
                save(cache, item, picture)
    return {(k, int(i)): cache.featvis_path(k, int(i)) for k, i in items}


# ---------------------------------------------------------------------------- quality
def quality(model: torch.nn.Module, run, features: np.ndarray, objectives: Sequence[ObjectiveSpec],
            pictures: Sequence[Image.Image]) -> np.ndarray:
    """(units,) quality of each picture (``featvis_quality``) against its unit's top
    ``TOP_IMAGES`` dataset images, by the cached pooled ``features`` (N, C) of the run."""
    from analysis.explain.featvis_quality import TOP_IMAGES, featvis_quality

    return featvis_quality(model, run.spec.target_layer, pictures, objectives, features,
                           mean_std=run.spec.mean_std(run.weights), n=TOP_IMAGES)
