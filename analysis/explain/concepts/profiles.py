"""Where and how often a concept occurs, per class: the numbers behind a portrait card's
"mostly in the bottom strip" and "in 9 of 10 Tokyo photos, 1 in 10 elsewhere".

A concept is *present* in an image when its strongest position reaches ``presence`` of
the concept's typical strong value (the 95th percentile over all images of each image's
maximum): relative to the concept itself, because concept maps have no common unit.
"""

from __future__ import annotations

import numpy as np

PRESENCE = 0.5


def concept_maxima(maps, batch: int = 256) -> np.ndarray:
    """(N, K) each image's strongest value of each concept map (memmap read in chunks)."""
    n, k = maps.shape[:2]
    out = np.empty((n, k))
    for a in range(0, n, batch):
        out[a:a + batch] = np.asarray(maps[a:a + batch], dtype=np.float64).max((2, 3))
    return out


def presence(maxima: np.ndarray, level: float = PRESENCE) -> np.ndarray:
    """(N, K) bool: the concept is present in the image (see the module docstring)."""
    maxima = np.asarray(maxima, dtype=np.float64)
    scale = np.quantile(maxima, 0.95, axis=0) if len(maxima) else np.ones(maxima.shape[1])
    return maxima >= level * np.where(scale > 0, scale, np.inf)


def prevalence(present: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, T) share of each class's images in which each concept is present, and (K, T)
    the same share among the images of all *other* classes (NaN where there are none)."""
    present = np.asarray(present, dtype=np.float64)
    labels = np.asarray(labels)
    k = present.shape[1]
    own = np.full((k, n_classes), np.nan)
    others = np.full((k, n_classes), np.nan)
    for t in range(n_classes):
        mine = labels == t
        if mine.any():
            own[:, t] = present[mine].mean(0)
        if (~mine).any():
            others[:, t] = present[~mine].mean(0)
    return own, others


def mean_maps(maps, labels: np.ndarray, n_classes: int, batch: int = 256) -> np.ndarray:
    """(K, T, h, w): each concept's mean map over each class's images, every image's map
    divided by its own maximum first (so where a concept sits counts, not how strongly),
    then the mean scaled to a maximum of 1. Zero where a class has no images."""
    n, k, h, w = maps.shape
    labels = np.asarray(labels)
    total = np.zeros((k, n_classes, h, w))
    for a in range(0, n, batch):
        m = np.asarray(maps[a:a + batch], dtype=np.float64)
        peak = m.max((2, 3), keepdims=True)
        m = np.divide(m, peak, out=np.zeros_like(m), where=peak > 0)
        for t in np.unique(labels[a:a + batch]):
            total[:, t] += m[labels[a:a + batch] == t].sum(0)
    peak = total.max((2, 3), keepdims=True)
    return np.divide(total, peak, out=np.zeros_like(total), where=peak > 0)


def where_words(mean_map: np.ndarray) -> str:
    """A few words for where a (h, w) map's mass sits: "bottom strip", "top band",
    "left edge", "upper right", "centre" …"""
    m = np.clip(np.asarray(mean_map, dtype=np.float64), 0, None)
    if m.sum() <= 0:
        return "nowhere in particular"
    # A mean map has a floor in every cell (weak activation in every photo); only the mass
    # above its typical cell says where the concept sits — else a stamp in two bottom
    # corners of 14×14 cells reads "all over the frame".
    m = np.clip(m - np.median(m), 0, None)
    if m.sum() <= 0:  # as strong in most cells as anywhere
        return "all over the frame"
    h, w = m.shape
    p = m / m.sum()
    ys, xs = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
    cy, cx = float(p.sum(1) @ ys), float(p.sum(0) @ xs)
    sy = float(np.sqrt(p.sum(1) @ (ys - cy) ** 2))
    sx = float(np.sqrt(p.sum(0) @ (xs - cx) ** 2))
    vertical = "top" if cy < 0.36 else "bottom" if cy > 0.64 else "middle"
    horizontal = "left" if cx < 0.36 else "right" if cx > 0.64 else "centre"
    if sx > 0.22 and sy < 0.2:  # wide and flat: a band across the frame
        return {"top": "top band", "middle": "middle band", "bottom": "bottom strip"}[vertical]
    if sy > 0.22 and sx < 0.2:  # tall and narrow
        return {"left": "left edge", "centre": "centre column", "right": "right edge"}[horizontal]
    if sx > 0.22 and sy > 0.22:
        return "all over the frame"
    if vertical == "middle" and horizontal == "centre":
        return "centre"
    if vertical == "middle":
        return f"{horizontal} side"
    if horizontal == "centre":
        return f"{vertical} centre"
    return f"{'upper' if vertical == 'top' else 'lower'} {horizontal}"
