"""Ground-truth localisation on the procedural demo streets, whose every signature cue (a
red double-decker, onion domes, vertical kanji signs …) comes with its pixel mask and the
classes it signals (``analysis.data.synth.load_cues``).

Two scores per map, for the map of the image's TRUE class:

* pointing game (Zhang et al., 2016, "Top-down neural attention by excitation backprop"):
  a hit if the map's maximum lies inside a cue mask whose ``classes`` contain the true
  class, with a tolerance of ``tolerance`` pixels (Zhang et al. use 15 px; here 15 px at
  224 px, scaled with the image) — i.e. within that distance of a mask pixel. A map without
  any positive value points nowhere: a miss. When several pixels share the maximum, the
  first in row-major order counts;
* energy inside the cues (the "energy-based pointing game", Wang et al., 2020,
  Score-CAM): the fraction of the map's positive mass inside the union of the true class's
  cue masks. Unsigned maps (Grad-CAM, gradient magnitude) are used as they are, signed maps
  by their positive part (evidence for the class). NaN (left out) for a map with no
  positive mass.

Their chance levels, per image: a uniformly random point hits with probability
``pointing_chance`` (the share of pixels within the tolerance of the masks), and a uniform
map puts ``mask_area`` (the masks' share of the image) inside them.

Images without any cue of their true class cannot be scored and are excluded (counted).
Maps at another resolution than the annotations are resized bilinearly to the image.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.explain.scaling import upsample

REFERENCE_TOLERANCE = 15
REFERENCE_SIZE = 224


def scaled_tolerance(height: int, width: int, at_224: float = REFERENCE_TOLERANCE) -> int:
    """A tolerance given in pixels at 224 px (Zhang et al.'s 15 px) for an image of this
    size, proportionally (at least 1 unless ``at_224`` is 0)."""
    if at_224 <= 0:
        return 0
    return max(1, round(min(height, width) * at_224 / REFERENCE_SIZE))


def class_mask(cues: Sequence, cls: str, shape: tuple[int, int] | None = None) -> np.ndarray | None:
    """Union of the masks of the cues that signal ``cls`` (None when there is none)."""
    masks = [np.asarray(c.mask, bool) for c in cues if cls in tuple(c.classes)]
    if not masks:
        return None
    out = np.zeros(masks[0].shape if shape is None else shape, bool)
    for m in masks:
        out |= m
    return out


def resize_map(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = np.asarray(m, np.float32)
    return m if m.shape == tuple(shape) else upsample(m, tuple(shape))


def _distance_to_mask(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(~mask)


def pointing_hit(m: np.ndarray, mask: np.ndarray, tolerance: int = 0) -> bool:
    """Is the maximum of ``m`` within ``tolerance`` px of ``mask``? (no positive value: no)."""
    m = resize_map(m, mask.shape)
    if not np.isfinite(m).all() or m.max() <= 0:
        return False
    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
    if mask[y, x]:
        return True
    if tolerance <= 0 or not mask.any():
        return False
    y0, y1 = max(0, y - tolerance), min(mask.shape[0], y + tolerance + 1)
    x0, x1 = max(0, x - tolerance), min(mask.shape[1], x + tolerance + 1)
    ys, xs = np.nonzero(mask[y0:y1, x0:x1])
    if ys.size == 0:
        return False
    return bool(((ys + y0 - y) ** 2 + (xs + x0 - x) ** 2).min() <= tolerance ** 2)


def energy_inside(m: np.ndarray, mask: np.ndarray) -> float:
    """Share of the positive mass of ``m`` inside ``mask`` (NaN without positive mass)."""
    pos = np.clip(resize_map(m, mask.shape), 0, None).astype(np.float64)
    total = pos.sum()
    if not np.isfinite(total) or total <= 0:
        return float("nan")
    return float(pos[mask].sum() / total)


def pointing_chance(mask: np.ndarray, tolerance: int = 0) -> float:
    """Probability that a uniformly random pixel is within ``tolerance`` px of ``mask``."""
    if tolerance <= 0:
        return float(mask.mean())
    return float((_distance_to_mask(mask) <= tolerance).mean())


def score_images(maps: dict[str, np.ndarray], masks: Sequence[np.ndarray | None],
                 classes: Sequence[str], correct: Sequence[bool], tolerance: float = REFERENCE_TOLERANCE,
                 rows: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per (method, image) with ``row, class, correct, has_cue, hit, energy,
    pointing_chance, mask_area`` (scores NaN where the image has no cue of its class).
    ``tolerance``: pixels at 224 px, scaled to each mask's size (``scaled_tolerance``)."""
    n = len(masks)
    rows = list(range(n)) if rows is None else list(rows)
    per_image = []
    for i, mask in enumerate(masks):
        if mask is None or not mask.any():
            per_image.append((False, np.nan, np.nan, None))
            continue
        tol = scaled_tolerance(*mask.shape, tolerance)
        per_image.append((True, pointing_chance(mask, tol), float(mask.mean()), tol))
    out = []
    for method, mm in maps.items():
        if len(mm) != n:
            raise ValueError(f"{method}: {len(mm)} maps for {n} images")
        for i in range(n):
            has, chance, area, tol = per_image[i]
            hit = float(pointing_hit(mm[i], masks[i], tol)) if has else np.nan
            energy = energy_inside(mm[i], masks[i]) if has else np.nan
            out.append({"method": method, "row": rows[i], "class": classes[i], "correct": bool(correct[i]),
                        "has_cue": has, "hit": hit, "energy": energy, "pointing_chance": chance,
                        "mask_area": area})
    return pd.DataFrame(out)


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Long form per method, subset (``correct``/``all``) and class (``"all"`` + each):
    ``pointing_game`` (hit rate), ``energy``, their chance levels ``pointing_chance`` and
    ``mask_area``, and ``excluded`` (images without a cue of their class; value = count)."""
    out = []
    for subset in ("correct", "all"):
        sub = scores[scores["correct"]] if subset == "correct" else scores
        for method, d in sub.groupby("method", sort=False):
            for cls, dc in [("all", d), *sorted(d.groupby("class"), key=lambda t: t[0])]:
                scored = dc[dc["has_cue"]]
                for metric, col in (("pointing_game", "hit"), ("energy", "energy"),
                                    ("pointing_chance", "pointing_chance"), ("mask_area", "mask_area")):
                    v = scored[col].dropna()
                    out.append({"method": method, "subset": subset, "class": cls, "metric": metric,
                                "value": float(v.mean()) if len(v) else np.nan,
                                "std": float(v.std(ddof=0)) if len(v) else np.nan, "n": int(len(v))})
                out.append({"method": method, "subset": subset, "class": cls, "metric": "excluded",
                            "value": float((~dc["has_cue"]).sum()), "std": np.nan, "n": int(len(dc))})
    return pd.DataFrame(out)
