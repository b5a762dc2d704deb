"""How good is a feature visualisation? One number: the activation the picture reaches at
its unit, relative to what the unit's best real images reach.

    quality = response(picture) / mean(response(top-8 dataset images of the unit))

The *response* of an image in [0, 1] (normalised by the backbone) is read at the
backbone's target layer, where every page defines the unit (channel attributions, top
images, concept maps) and the cache holds the pooled activations of every image:

* a channel ``("channel", c)``: the spatial mean of channel ``c`` — what lucent's
  ``objectives.channel`` maximises;
* a concept ``("direction", v)``: the spatial mean of the projection of the activation
  onto the unit direction ``v / |v|`` — the ``dot`` of the ``dot_cossim`` objective (its
  cosine factor only steers; it is no amount of activation). Being linear, it equals
  the projection of the pooled activation, so the cache's ``features`` (N, C) give every
  image's response without a forward pass.

Where the picture was optimised at another layer (EfficientNet: ``bn2.drop``, the same
channels before the ReLU6 that caps ``bn2``, because a saturated ReLU6 has no gradient),
the response is still read after the activation: the pre-activation mean of a channel's
top photos is often negative (measured on the demo: −0.7 and −1.3 for two of four top
channels, −50 to −70 for concept projections), which gives no scale to compare with.

1.0: the picture excites the unit as much as its best real photos do on average; below:
it has not found what the unit wants; far above: it found a stimulus stronger than any
photo (also typical of high-frequency patterns — look at the picture). The picture is
measured at the size it was rendered, the photos at the run's input size (a spatial mean
compares across sizes).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from analysis.explain.featvis import ObjectiveSpec, layer_activation

TOP_IMAGES = 8
"""How many of a unit's strongest dataset images its pictures are compared with."""


def unit_vector(unit: ObjectiveSpec, n_channels: int) -> np.ndarray:
    """(C,) weights whose dot product with a pooled activation is the unit's response:
    one-hot for a channel, the unit direction for a concept."""
    kind, value = unit
    if kind == "channel":
        c = int(value)
        if not 0 <= c < n_channels:
            raise ValueError(f"channel {c} out of range for a layer with {n_channels} channels")
        out = np.zeros(n_channels, np.float64)
        out[c] = 1.0
        return out
    if kind == "direction":
        v = np.asarray(value, dtype=np.float64).ravel()
        if v.size != n_channels:
            raise ValueError(f"direction has {v.size} entries, the layer {n_channels} channels")
        norm = np.linalg.norm(v)
        if norm == 0:
            raise ValueError("a concept direction of zeros has no response")
        return v / norm
    raise ValueError(f"unknown unit {kind!r}; use ('channel', c) or ('direction', vector)")


def unit_response(pooled: np.ndarray | torch.Tensor, unit: ObjectiveSpec) -> np.ndarray:
    """(n,) response of ``unit`` from pooled activations (n, C) — or from maps (n, C, h, w),
    pooled here by their spatial mean."""
    a = pooled.detach().cpu().numpy() if isinstance(pooled, torch.Tensor) else np.asarray(pooled)
    a = a.astype(np.float64)
    if a.ndim == 4:
        a = a.mean((2, 3))
    return a @ unit_vector(unit, a.shape[1])


def top_rows(features: np.ndarray, unit: ObjectiveSpec, n: int = TOP_IMAGES, chunk: int = 4096) -> np.ndarray:
    """Rows of the ``n`` images with the strongest response of ``unit``, strongest first,
    from pooled features (N, C) (a memory map is read in chunks)."""
    values = np.concatenate([unit_response(np.asarray(features[a:a + chunk], np.float32), unit)
                             for a in range(0, len(features), chunk)]) if len(features) else np.zeros(0)
    order = np.argsort(-values, kind="stable")
    return order[:n]


def responses(model: nn.Module, layer: str, images: Sequence[Image.Image] | torch.Tensor,
              units: Sequence[ObjectiveSpec], mean_std=None, batch: int = 32) -> np.ndarray:
    """(n,) response of ``units[i]`` to ``images[i]`` (PIL pictures or a tensor in [0, 1],
    all of one size) at ``layer``."""
    if len(images) != len(units):
        raise ValueError(f"{len(images)} images for {len(units)} units")
    out = np.zeros(len(units))
    for a in range(0, len(units), batch):
        pooled = layer_activation(model, layer, images[a:a + batch], mean_std=mean_std)
        out[a:a + batch] = [unit_response(pooled[i:i + 1], u)[0] for i, u in enumerate(units[a:a + batch])]
    return out


def reference_responses(features: np.ndarray, units: Sequence[ObjectiveSpec], n: int = TOP_IMAGES,
                        chunk: int = 4096) -> np.ndarray:
    """(units,) mean response of each unit over its ``n`` strongest images, from pooled
    features (N, C) of the dataset (one pass over them, in chunks)."""
    if not len(units):
        return np.zeros(0)
    weights = np.stack([unit_vector(u, features.shape[1]) for u in units], axis=1)
    values = np.concatenate([np.asarray(features[a:a + chunk], np.float64) @ weights
                             for a in range(0, len(features), chunk)]) if len(features) else None
    if values is None:
        return np.full(len(units), np.nan)
    k = min(n, len(values))
    return -np.sort(-values, axis=0)[:k].mean(0)


def quality(picture_response: np.ndarray | float, reference: np.ndarray | float) -> np.ndarray:
    """picture / reference, NaN where the reference is not positive (a unit that its best
    photos do not excite has no scale to compare with)."""
    p = np.asarray(picture_response, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, p / np.where(r > 0, r, 1.0), np.nan)


def featvis_quality(model: nn.Module, layer: str, pictures: Sequence[Image.Image],
                    units: Sequence[ObjectiveSpec], features: np.ndarray, mean_std=None,
                    n: int = TOP_IMAGES) -> np.ndarray:
    """(units,) quality of ``pictures[i]`` as a visualisation of ``units[i]``: its response
    at ``layer`` (the target layer) over the mean response of the unit's top ``n`` images
    among ``features`` (N, C), the dataset's pooled activations at that layer."""
    ref = reference_responses(features, units, n)
    return quality(responses(model, layer, pictures, units, mean_std), ref)
