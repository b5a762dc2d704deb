"""Channel attribution (Building Blocks of Interpretability): how much each channel of the
target feature map pushed each logit, per image and over the whole dataset.

For image n, output k (classes of both heads, city logits first) and channel c::

    attr[n, k, c] = Σ_xy A[n, c, x, y] · ∂logit_k / ∂A[n, c, x, y]      (gradient × activation)

It is a reduction of the same head Jacobian that all-class Grad-CAM reduces, so
``all_class_cams`` computes both in one pass (``CamResult.channel_attr``); this module
holds the formula and the dataset-wide summaries over the cache's ``channel_attr``
artefact (a memmap: summaries stream over it in row chunks, so memory stays flat however
large the dataset).
"""
from __future__ import annotations

import numpy as np
import torch

DEFAULT_CHUNK_ROWS = 1024


def attribution_from_jacobian(features: torch.Tensor, jacobian: torch.Tensor) -> torch.Tensor:
    """(N, K, C) gradient × activation summed over space.

    ``features`` (N, C, h, w) is the feature map A, ``jacobian`` (N, K, C, h, w) holds
    ∂logit_k/∂A for every output k.
    """
    if (jacobian.dim() != 5 or jacobian.shape[0] != features.shape[0]
            or jacobian.shape[2:] != features.shape[1:]):
        raise ValueError(f"jacobian {tuple(jacobian.shape)} does not fit features "
                         f"{tuple(features.shape)}")
    return torch.einsum("nkchw,nchw->nkc", jacobian, features)


# -- dataset-wide -----------------------------------------------------------------------

def mean_channel_attribution(attr, labels, label: int, column: int, *, mask=None,
                             chunk_rows: int = DEFAULT_CHUNK_ROWS) -> tuple[np.ndarray, int]:
    """Mean over the images with ``labels == label`` (and ``mask``) of ``attr[:, column, :]``.

    ``attr`` is an (N, K, C) array, memmap or CPU tensor. Only the selected rows of one
    column are read, ``chunk_rows`` at a time, and summed in float64. Returns
    ``(mean (C,), number of images)``; the mean is all zeros when no image qualifies.
    """
    if isinstance(attr, torch.Tensor):
        attr = attr.detach().cpu().numpy()
    if getattr(attr, "ndim", None) != 3:
        raise ValueError(f"attr must be (N, K, C), got shape {getattr(attr, 'shape', None)}")
    n, k_total, c = attr.shape
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if not 0 <= column < k_total:
        raise ValueError(f"column {column} out of range for attr with {k_total} outputs")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    keep = labels == label
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n,):
            raise ValueError(f"mask must have shape ({n},), got {mask.shape}")
        keep &= mask
    rows = np.flatnonzero(keep)
    total = np.zeros(c, dtype=np.float64)
    for start in range(0, len(rows), chunk_rows):
        block = attr[rows[start:start + chunk_rows], column, :]
        total += np.asarray(block, dtype=np.float64).sum(axis=0)
    if len(rows):
        total /= len(rows)
    return total, int(len(rows))


def mean_attributions(attr, targets, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
                      ) -> list[tuple[np.ndarray, int]]:
    """:func:`mean_channel_attribution` of many ``(rows mask (N,), column)`` targets in one
    pass over ``attr``: every class and group reads the array once together, not once each
    (twelve passes on the demo). Sums in float64, ``chunk_rows`` contiguous rows at a time."""
    n, k_total, c = attr.shape
    masks = [np.asarray(m, dtype=bool) for m, _ in targets]
    columns = [int(col) for _, col in targets]
    for m, col in zip(masks, columns):
        if m.shape != (n,):
            raise ValueError(f"mask must have shape ({n},), got {m.shape}")
        if not 0 <= col < k_total:
            raise ValueError(f"column {col} out of range for attr with {k_total} outputs")
    totals = np.zeros((len(targets), c), dtype=np.float64)
    for a in range(0, n, chunk_rows):
        block = np.asarray(attr[a:a + chunk_rows])
        for t, (m, col) in enumerate(zip(masks, columns)):
            picked = m[a:a + len(block)]
            if picked.any():
                totals[t] += block[picked, col, :].astype(np.float64).sum(axis=0)
    counts = [int(m.sum()) for m in masks]
    return [(totals[t] / counts[t] if counts[t] else totals[t], counts[t]) for t in range(len(targets))]


def top_of(mean: np.ndarray, count: int, n: int) -> list[tuple[int, float]]:
    """The ``n`` largest channels of a mean attribution, ``[(channel, value), …]``."""
    if count == 0 or n < 1:
        return []
    order = np.argsort(-mean, kind="stable")[:n]  # ties: lower channel index first
    return [(int(ch), float(mean[ch])) for ch in order]


def top_channels(attr, labels, k: int, n: int = 10, *, only_correct_mask=None,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS) -> list[tuple[int, float]]:
    """The ``n`` channels that push city ``k`` hardest, averaged over images of city ``k``.

    ``labels`` are city labels (N,); ``attr`` column ``k`` is city ``k``'s logit.
    ``only_correct_mask`` (N,) bool restricts to correctly classified images.
    Returns ``[(channel, mean attribution), …]`` sorted descending; empty if no image
    qualifies.
    """
    mean, count = mean_channel_attribution(attr, labels, k, k, mask=only_correct_mask,
                                           chunk_rows=chunk_rows)
    return top_of(mean, count, n)


def top_group_channels(attr, group_labels, g: int, n_classes: int, n: int = 10, *,
                       only_correct_mask=None, chunk_rows: int = DEFAULT_CHUNK_ROWS
                       ) -> list[tuple[int, float]]:
    """``top_channels`` for group ``g``: its logit is ``attr`` column ``n_classes + g``
    (group outputs follow the city outputs), averaged over images of group ``g``."""
    mean, count = mean_channel_attribution(attr, group_labels, g, n_classes + g,
                                           mask=only_correct_mask, chunk_rows=chunk_rows)
    return top_of(mean, count, n)
