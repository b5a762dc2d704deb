"""Name candidates for concepts, each with its score and where it comes from.

* ``cue`` (the demo): the ground-truth cue whose masks overlap the concept's maps best,
  as intersection over union accumulated over the concept's top images (NetDissect's
  dataset-wide IoU): the region is where the upsampled map reaches ``threshold`` of its
  maximum in that image.
* ``scene`` (real photos): the Places365 categories that the Places365 network gives the
  concept's top patches, averaged over the patches.
* ``colour`` and ``position``: plain descriptors anyone can check by eye — the palette
  colour most of the top patches' pixels are nearest to, and where the concept sits.

Until a user names a concept it goes by its best candidate (:func:`automatic_name`),
marked as automatic everywhere it is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.explain.concepts.profiles import concept_maxima
from analysis.explain.scaling import upsample

SOURCES = ("cue", "scene", "colour", "position")
"""Candidate sources in the order they win for the automatic name."""
MIN_SCORE = {"cue": 0.05, "scene": 0.15, "colour": 0.0, "position": 0.0}
"""Below these a candidate of that source is listed but never chosen automatically."""

PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20), "dark grey": (70, 70, 70), "grey": (128, 128, 128),
    "light grey": (190, 190, 190), "white": (245, 245, 245), "red": (200, 30, 30),
    "dark red": (120, 20, 20), "orange": (235, 130, 30), "yellow": (240, 210, 40),
    "beige": (220, 200, 160), "brown": (130, 85, 45), "green": (50, 150, 50),
    "dark green": (25, 80, 30), "teal": (30, 140, 140), "sky blue": (120, 180, 230),
    "blue": (40, 80, 200), "navy": (20, 30, 90), "purple": (130, 50, 160), "pink": (235, 140, 180),
}


@dataclass(frozen=True)
class Candidate:
    concept: int
    name: str
    score: float
    source: str
    detail: str = ""


def cue_overlap(maps, image_names: Sequence[str], cues_of: Callable[[str], list],
                top_images: int = 40, threshold: float = 0.5) -> pd.DataFrame:
    """Dataset-wide IoU of every concept with every cue kind over the concept's
    ``top_images`` strongest images. ``cues_of(name)`` gives an image's cues (objects with
    ``kind`` and a boolean ``mask`` of the image's size). Columns: concept, cue, iou,
    images (of the top ones that show the cue)."""
    n, k, h, w = maps.shape
    peaks = concept_maxima(maps)
    rows = []
    for ki in range(k):
        top = [i for i in np.argsort(-peaks[:, ki], kind="stable")[:top_images] if peaks[i, ki] > 0]
        inter: dict[str, float] = {}
        union: dict[str, float] = {}
        shown: dict[str, int] = {}
        region_sizes = []
        for i in top:
            cues = cues_of(image_names[i])
            if not cues:
                region_sizes.append(None)
                continue
            size = cues[0].mask.shape
            m = upsample(np.asarray(maps[i, ki], dtype=np.float32), size)
            region = m >= threshold * m.max()
            kinds: dict[str, np.ndarray] = {}
            for c in cues:
                kinds[c.kind] = kinds.get(c.kind, np.zeros(size, bool)) | c.mask
            for kind, mask in kinds.items():
                inter[kind] = inter.get(kind, 0.0) + float((region & mask).sum())
                union[kind] = union.get(kind, 0.0) + float((region | mask).sum())
                shown[kind] = shown.get(kind, 0) + 1
            region_sizes.append((kinds, float(region.sum())))
        # an image without a cue kind still adds its region to that kind's union
        for kind in union:
            union[kind] += sum(r[1] for r in region_sizes if r is not None and kind not in r[0])
        for kind in union:
            rows.append({"concept": ki, "cue": kind, "iou": inter[kind] / union[kind] if union[kind] else 0.0,
                         "images": shown[kind]})
    return pd.DataFrame(rows, columns=["concept", "cue", "iou", "images"])


def scene_candidates(probs: np.ndarray, categories: Sequence[str], concept: int, top: int = 3) -> list[Candidate]:
    """The ``top`` Places365 categories of a concept's patches (``probs`` (P, categories),
    one row per patch), scored by their mean probability."""
    mean = np.asarray(probs, dtype=np.float64).mean(0)
    order = np.argsort(-mean, kind="stable")[:top]
    return [Candidate(concept, readable(categories[i]), float(mean[i]), "scene",
                      f"Places365 mean probability over {len(probs)} top patches") for i in order]


def readable(category: str) -> str:
    """``street/outdoor`` → ``street (outdoor)``; underscores as spaces."""
    base, _, kind = category.partition("/")
    text = base.replace("_", " ")
    return f"{text} ({kind.replace('_', ' ')})" if kind else text


def colour_candidate(pixels: np.ndarray, concept: int) -> Candidate:
    """The palette colour that most of ``pixels`` (M, 3) uint8 are nearest to; its share."""
    px = np.asarray(pixels, dtype=np.float64).reshape(-1, 3)
    names = list(PALETTE)
    centres = np.array([PALETTE[n] for n in names], dtype=np.float64)
    nearest = ((px[:, None, :] - centres[None]) ** 2).sum(2).argmin(1)
    counts = np.bincount(nearest, minlength=len(names))
    best = int(counts.argmax())
    share = float(counts[best] / max(len(px), 1))
    return Candidate(concept, names[best], share, "colour", f"{share:.0%} of the top patches' pixels")


def position_candidate(where: str, concept: int, mass_share: float) -> Candidate:
    return Candidate(concept, where, mass_share, "position", "where its mean map sits")


def automatic_name(candidates: Sequence[Candidate]) -> Candidate | None:
    """The candidate a concept goes by until a user decides: the best of the first source
    (in :data:`SOURCES` order) with a candidate above its minimum score; colour and
    position together when only descriptors qualify ("grey · bottom strip")."""
    for source in ("cue", "scene"):
        ok = [c for c in candidates if c.source == source and c.score >= MIN_SCORE[source]]
        if ok:
            return max(ok, key=lambda c: c.score)
    colour = [c for c in candidates if c.source == "colour"]
    place = [c for c in candidates if c.source == "position"]
    if colour and place:
        return Candidate(colour[0].concept, f"{colour[0].name} · {place[0].name}",
                         min(colour[0].score, place[0].score), "colour+position")
    return (colour or place or [None])[0]


def candidates_frame(candidates: Sequence[Candidate]) -> pd.DataFrame:
    """Candidates as a table, best first within each concept, with ``automatic`` marking
    the one each concept goes by."""
    rows = []
    for k in sorted({c.concept for c in candidates}):
        own = [c for c in candidates if c.concept == k]
        auto = automatic_name(own)
        ranked = sorted(own, key=lambda c: (SOURCES.index(c.source), -c.score))
        if auto is not None and auto not in ranked:
            ranked = [auto, *ranked]
        for rank, c in enumerate(ranked):
            rows.append({"concept": k, "rank": rank, "name": c.name, "score": c.score, "source": c.source,
                         "detail": c.detail, "automatic": c == auto})
    return pd.DataFrame(rows, columns=["concept", "rank", "name", "score", "source", "detail", "automatic"])
