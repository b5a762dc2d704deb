"""Evidence fixed in the frame: does a class's evidence sit in the same border region of
every photo, as a watermark or a logo would?

Regions are the outer strips and corners of the feature grid (:func:`region_masks`). For each class we count in how many of its images the
Grad-CAM of its own logit peaks in each region, and compare with the other classes'
images: a street cue can sit anywhere, a stamp sits in the same place every time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REGIONS = ("top strip", "bottom strip", "left strip", "right strip",
           "top-left corner", "top-right corner", "bottom-left corner", "bottom-right corner")
MIN_SHARE = 0.5  # of a class's images peaking in one region …
MIN_LIFT = 2.0  # … at least this many times as often as the other classes' images;
RARE_SHARE, RARE_LIFT, RARE_IMAGES = 0.25, 10.0, 5  # or a quarter of them (at least 5 photos), 10 × as often.
# The second rule is from real photos: a Street View watermark drew Seoul's Grad-CAM peak to
# the bottom strip in 33 % of its photos vs 0.8 % of the others' (lift 42), while the
# strongest cell of real street content on the demo reaches 28 % at a lift of 8.


STRIP, CORNER = 0.15, 0.25  # depth of a strip and side of a corner, as fractions of the frame


def region_masks(h: int, w: int) -> dict[str, np.ndarray]:
    """Boolean (h, w) masks of :data:`REGIONS`: strips :data:`STRIP` of the frame deep,
    corners :data:`CORNER` of its sides (at least one cell; at 7×7: 1 and 2 cells)."""
    sy, sx = max(1, round(STRIP * h)), max(1, round(STRIP * w))
    cy, cx = max(1, round(CORNER * h)), max(1, round(CORNER * w))
    m = {name: np.zeros((h, w), bool) for name in REGIONS}
    m["top strip"][:sy] = True
    m["bottom strip"][-sy:] = True
    m["left strip"][:, :sx] = True
    m["right strip"][:, -sx:] = True
    m["top-left corner"][:cy, :cx] = True
    m["top-right corner"][:cy, -cx:] = True
    m["bottom-left corner"][-cy:, :cx] = True
    m["bottom-right corner"][-cy:, -cx:] = True
    return m


def peak_regions(maps: np.ndarray) -> np.ndarray:
    """(N, regions) bool: the regions that contain each (h, w) map's strongest cell."""
    maps = np.asarray(maps, dtype=np.float64)
    n, h, w = maps.shape
    peak = maps.reshape(n, -1).argmax(1)
    masks = np.stack([m.ravel() for m in region_masks(h, w).values()], 1)  # (h*w, regions)
    return masks[peak]


def own_class_cams(cams, labels: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, h, w) each image's Grad-CAM of its own class's logit (ReLU), read in chunks."""
    labels = np.asarray(labels)
    out = np.empty((len(labels), *cams.shape[2:]))
    for a in range(0, len(labels), batch):
        c = np.asarray(cams[a:a + batch], dtype=np.float64)
        out[a:a + batch] = np.maximum(c[np.arange(len(c)), labels[a:a + batch]], 0)
    return out


MIN_IMAGES = 5  # correctly classified images a class needs before its evidence is judged


def frame_table(peaks: np.ndarray, labels: np.ndarray, classes, correct: np.ndarray | None = None) -> pd.DataFrame:
    """Per class and region: the share of its correctly classified images (the evidence the
    model used to get them right) peaking there, the share of the other classes' correct
    images, and their ratio (``lift``). Classes with fewer than :data:`MIN_IMAGES` such
    images are left out: a model that never gets a class right shows no evidence for it."""
    labels = np.asarray(labels)
    use = np.ones(len(labels), bool) if correct is None else np.asarray(correct, bool)
    peaks, labels = np.asarray(peaks)[use], labels[use]
    rows = []
    for t, name in enumerate(classes):
        own = labels == t
        if own.sum() < MIN_IMAGES:
            continue
        for r, region in enumerate(REGIONS):
            share = float(peaks[own, r].mean())
            others = float(peaks[~own, r].mean()) if (~own).any() else 0.0
            rows.append({"target": name, "region": region, "share": share, "others": others,
                         "images": int(own.sum()), "lift": share / others if others > 0 else float("inf")})
    return pd.DataFrame(rows, columns=["target", "region", "share", "others", "images", "lift"])


def frame_flags(table: pd.DataFrame, min_share: float = MIN_SHARE, min_lift: float = MIN_LIFT) -> pd.DataFrame:
    """The (class, region) rows that look like a stamp: most of the class's evidence peaks
    there, more often than for other classes — or a good part of it does, and almost never
    for the others (one row per class: its strongest)."""
    common = (table["share"] >= min_share) & (table["lift"] >= min_lift)
    rare = (table["share"] >= RARE_SHARE) & (table["lift"] >= RARE_LIFT) & \
        (table["share"] * table["images"] >= RARE_IMAGES)
    hit = table[common | rare]
    return hit.sort_values("share", ascending=False).drop_duplicates("target").reset_index(drop=True)


def concept_region_share(mean_map: np.ndarray) -> tuple[str, float]:
    """The border region holding the largest share of a (h, w) map's mass, and that share."""
    m = np.clip(np.asarray(mean_map, dtype=np.float64), 0, None)
    total = m.sum()
    if total <= 0:
        return "", 0.0
    shares = {name: float(m[mask].sum() / total) for name, mask in region_masks(*m.shape).items()}
    best = max(shares, key=shares.get)
    return best, shares[best]
