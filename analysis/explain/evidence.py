"""How much of one image's evidence for a target each building block carries — channels,
the image's own neuron groups, the dataset's concepts (Building Blocks of
Interpretability: attribution to groups of neurons, not only to pixels).

The evidence for an output is Grad-CAM's: the activation times the output's pooled
gradient, summed over the map. Split along a factorisation ``A ≈ U·W`` (maps ``U``,
channel directions ``W``), block ``g`` carries ``Σ_xy U_g · (W_g · α)`` of it. A contrast
"A rather than B" uses the gradient difference ``α_A − α_B``.
"""

from __future__ import annotations

import numpy as np

from analysis.explain.targets import Target


def target_vector(per_output: np.ndarray, a: Target, b: Target | None, n_classes: int) -> np.ndarray:
    """One image's per-output row (K, C) — gradients or channel attributions, every class
    then every group — reduced to the target: output A, or A − B."""
    v = np.asarray(per_output[a.output(n_classes)], dtype=np.float32)
    if b is not None:
        v = v - np.asarray(per_output[b.output(n_classes)], dtype=np.float32)
    return v


def top_channels(attribution: np.ndarray, n: int = 8) -> list[int]:
    """The ``n`` channels that push most towards the target (those with positive evidence;
    all ``n`` strongest when none is positive)."""
    top = np.argsort(-attribution, kind="stable")[:n]
    return [int(c) for c in top if attribution[c] > 0] or [int(c) for c in top]


def evidence_shares(maps: np.ndarray, directions: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(evidence, share) of each block: ``Σ_xy U_g · (W_g · α)`` and that over the sum of
    absolute evidence (negative: against the target; all zero when there is none)."""
    maps = np.asarray(maps, dtype=np.float32)
    contrib = maps.reshape(len(maps), -1).sum(1) * (np.asarray(directions, np.float32) @ alpha)
    total = np.abs(contrib).sum()
    return contrib, (contrib / total if total > 0 else np.zeros_like(contrib))


def concept_evidence(concept_maps: np.ndarray, components: np.ndarray, alpha: np.ndarray,
                     top: int = 4) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The dataset concepts that carry most evidence for the target in this image: their
    indices (most first), the image's concept maps (float32) and every concept's share."""
    maps = np.asarray(concept_maps, dtype=np.float32)
    contrib, share = evidence_shares(maps, components, alpha)
    return [int(i) for i in np.argsort(-contrib, kind="stable")[:top]], maps, share
