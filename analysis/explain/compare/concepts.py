"""Which concepts two models share: their concepts' maps on the same images correlated,
matched one-to-one by Hungarian assignment; those without a good partner are unique."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.compare.maps import _resize

SHARED = 0.5  # a matched pair with a lower correlation is not the same concept


def concept_profiles(maps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(K, N·h·w) each concept's maps over the images, at a common ``shape``."""
    maps = np.asarray(maps, dtype=np.float64)  # (N, K, h, w)
    n, k = maps.shape[:2]
    out = np.empty((k, n * shape[0] * shape[1]))
    for j in range(k):
        out[j] = np.concatenate([_resize(maps[i, j], shape).ravel() for i in range(n)])
    return out


def concept_similarity(maps_a: np.ndarray, maps_b: np.ndarray) -> np.ndarray:
    """(K_a, K_b) Pearson correlation of the two runs' concept maps on the same images."""
    shape = max(maps_a.shape[2:], maps_b.shape[2:], key=lambda s: s[0] * s[1])
    pa, pb = concept_profiles(maps_a, shape), concept_profiles(maps_b, shape)
    pa = pa - pa.mean(1, keepdims=True)
    pb = pb - pb.mean(1, keepdims=True)
    na, nb = np.linalg.norm(pa, axis=1), np.linalg.norm(pb, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num((pa @ pb.T) / np.outer(na, nb))


def match_concepts(similarity: np.ndarray, shared: float = SHARED) -> pd.DataFrame:
    """One row per concept of either run: its partner (Hungarian assignment maximising the
    similarity), the similarity, and whether they count as shared."""
    s = np.asarray(similarity, dtype=np.float64)
    from scipy.optimize import linear_sum_assignment  # here: its import cost the Sample page 0.3 s

    rows_a, cols_b = linear_sum_assignment(-s)
    out = []
    for i, j in zip(rows_a, cols_b):
        out.append({"concept_a": int(i), "concept_b": int(j), "similarity": float(s[i, j]),
                    "shared": bool(s[i, j] >= shared)})
    for i in sorted(set(range(s.shape[0])) - set(rows_a)):
        out.append({"concept_a": int(i), "concept_b": -1, "similarity": float("nan"), "shared": False})
    for j in sorted(set(range(s.shape[1])) - set(cols_b)):
        out.append({"concept_a": -1, "concept_b": int(j), "similarity": float("nan"), "shared": False})
    return pd.DataFrame(out).sort_values("similarity", ascending=False, na_position="last").reset_index(drop=True)
