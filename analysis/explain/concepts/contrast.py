"""Why this city and not that one: concepts that separate two classes.

With the removal effects on the logits (``effect.removal_effects``), the contribution of
concept k to the difference logit(A) − logit(B) of an image is what removing k takes away
from that difference: ``Δlogit_k[A] − Δlogit_k[B]``. Positive: the concept pushes the
image towards A rather than B. For a misclassified image (true T, predicted P) the
contributions to logit(P) − logit(T) say which concepts made the model choose P; for a
confused pair of the confusion matrix they are averaged over its images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def pair_contributions(dlogits: np.ndarray, a, b) -> np.ndarray:
    """(N, K): each concept's contribution to logit(a) − logit(b) of each image; ``a`` and
    ``b`` are class indices, one for all images or one per image."""
    d = np.asarray(dlogits, dtype=np.float64)
    rows = np.arange(d.shape[0])
    a = np.broadcast_to(np.asarray(a), rows.shape)
    b = np.broadcast_to(np.asarray(b), rows.shape)
    return d[rows, :, a] - d[rows, :, b]


def ranked_contributions(dlogits: np.ndarray, a, b, top: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(concepts, contributions)`` (N, top or K): each image's concepts by the size of their
    contribution to logit(a) − logit(b) (ties: the lower index first), and those contributions."""
    contrib = pair_contributions(dlogits, a, b)
    order = np.argsort(-np.abs(contrib), axis=1, kind="stable")
    order = order if top is None else order[:, :top]
    return order, np.take_along_axis(contrib, order, 1)


def error_contributions(dlogits: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(N, K): contributions to logit(predicted) − logit(true); zero rows for correct images."""
    c = pair_contributions(dlogits, y_pred, y_true)
    c[np.asarray(y_true) == np.asarray(y_pred)] = 0.0
    return c


def confused_pairs(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Every (true, predicted) pair with at least one image, most images first."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    wrong = y_true != y_pred
    if not wrong.any():
        return pd.DataFrame(columns=["true", "predicted", "true_index", "predicted_index", "images"])
    pairs, counts = np.unique(np.stack([y_true[wrong], y_pred[wrong]], 1), axis=0, return_counts=True)
    df = pd.DataFrame({"true": [classes[t] for t, _ in pairs], "predicted": [classes[p] for _, p in pairs],
                       "true_index": pairs[:, 0], "predicted_index": pairs[:, 1], "images": counts})
    return df.sort_values(["images", "true", "predicted"], ascending=[False, True, True]).reset_index(drop=True)


def pair_table(dlogits: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
               classes: Sequence[str]) -> pd.DataFrame:
    """For every confused pair (true A predicted B) and concept: its mean contribution to
    logit(B) − logit(A) over those images (``towards_predicted``), and, for reference, over
    the correctly classified images of A (``usual``: how the concept normally weighs the
    two). ``separation`` = towards_predicted − usual: what is unusual about the errors."""
    d = np.asarray(dlogits, dtype=np.float64)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rows = []
    for pair in confused_pairs(y_true, y_pred, classes).itertuples():
        a, b = int(pair.true_index), int(pair.predicted_index)
        errs = (y_true == a) & (y_pred == b)
        right = (y_true == a) & (y_pred == a)
        toward = pair_contributions(d[errs], b, a).mean(0)
        usual = pair_contributions(d[right], b, a).mean(0) if right.any() else np.full(d.shape[1], np.nan)
        for k in range(d.shape[1]):
            rows.append({"true": pair.true, "predicted": pair.predicted, "images": int(pair.images),
                         "concept": k, "towards_predicted": float(toward[k]), "usual": float(usual[k]),
                         "separation": float(toward[k] - usual[k])})
    return pd.DataFrame(rows, columns=["true", "predicted", "images", "concept", "towards_predicted",
                                       "usual", "separation"])


def strongest(contributions: np.ndarray, top: int = 3) -> list[tuple[int, float]]:
    """The ``top`` concepts with the largest absolute contribution, as (concept, value),
    largest first; for one image's (K,) row."""
    c = np.asarray(contributions, dtype=np.float64)
    order = np.argsort(-np.abs(c), kind="stable")[:top]
    return [(int(k), float(c[k])) for k in order]


def signed(value: float, digits: int = 2) -> str:
    """A contribution as people write it: "+0.80", "−0.30" (a real minus sign)."""
    v = round(float(value), digits)
    return f"{v + 0.0:+.{digits}f}".replace("-", "−")  # + 0.0: no "−0.00"

