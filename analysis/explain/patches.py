"""Top patches of a concept: the regions of real photos where its map is strongest (at
most one per image, so one photo cannot fill a concept's gallery), cut out at a fixed size
for the Atlas's galleries and the concept cards."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps

from analysis.explain.concepts.factorize import check_4d


class Patch(NamedTuple):
    image: int
    y: int
    x: int
    value: float


def top_patches(maps, n: int = 12, batch: int = 256) -> list[list[Patch]]:
    """For each concept, the ``n`` images whose strongest position activates it most.

    At most one patch per image (its argmax cell), so one photo cannot fill a concept's
    gallery; positions with value ≤ 0 are never returned. Ties break by image index.
    ``maps`` (N, K, h, w) may be a memmap: it is read ``batch`` images at a time, and only
    the ``n`` best candidates per concept are kept between reads (memory flat in N).
    """
    N, K, h, w = check_4d(maps, "maps")
    value = [np.empty(0) for _ in range(K)]
    image = [np.empty(0, np.int64) for _ in range(K)]
    cell = [np.empty(0, np.int64) for _ in range(K)]
    for s in range(0, N, batch):
        flat = np.asarray(maps[s:s + batch], dtype=np.float64).reshape(-1, K, h * w)
        where, best = flat.argmax(2), flat.max(2)
        rows = np.arange(s, s + flat.shape[0])
        for k in range(K):
            v = np.concatenate([value[k], best[:, k]])
            i = np.concatenate([image[k], rows])
            c = np.concatenate([cell[k], where[:, k]])
            keep = np.lexsort((i, -v))[:n]
            value[k], image[k], cell[k] = v[keep], i[keep], c[keep]
    return [[Patch(int(i), int(c // w), int(c % w), float(v))
             for v, i, c in zip(value[k], image[k], cell[k]) if v > 0] for k in range(K)]


def patch_box(y: int, x: int, fmap_hw: tuple[int, int], image_hw: tuple[int, int],
              scale: float = 2.0) -> tuple[int, int, int, int]:
    """Image box (left, top, right, bottom) — PIL crop convention — for feature cell (y, x).

    The network sees the whole photo resized to a square (no crop), so a cell covers
    image_h/h × image_w/w pixels; the box is ``scale`` cells wide and high, centred on
    the cell's centre (the centre of its receptive field), clipped to the image.
    """
    (h, w), (H, W) = fmap_hw, image_hw
    if not (0 <= y < h and 0 <= x < w):
        raise ValueError(f"cell ({y}, {x}) outside the {h}×{w} feature map")
    sy, sx = H / h, W / w
    cy, cx = (y + 0.5) * sy, (x + 0.5) * sx
    half_h, half_w = scale * sy / 2, scale * sx / 2
    top, bottom = max(0, int(round(cy - half_h))), min(H, int(round(cy + half_h)))
    left, right = max(0, int(round(cx - half_w))), min(W, int(round(cx + half_w)))
    return left, top, max(right, left + 1), max(bottom, top + 1)


def crop_patches(images: Sequence[str | Path | Image.Image] | Callable[[int], Image.Image],
                 boxes: Sequence[tuple[int, int, int, int]], size: int = 96,
                 indices: Sequence[int] | None = None) -> list[Image.Image]:
    """Crop each box from its image and fit it into ``size``×``size`` (aspect kept).

    ``images`` is a sequence of paths / PIL images aligned with ``boxes``, or a loader
    ``f(i) -> PIL.Image`` called with ``indices[j]`` (e.g. ``Patch.image``). Each file
    is opened once even if several boxes come from it.
    """
    if callable(images):
        if indices is None or len(indices) != len(boxes):
            raise ValueError("a loader needs one index per box")
        sources = [lambda i=i: images(i) for i in indices]
        keys = list(indices)
    else:
        if len(images) != len(boxes):
            raise ValueError(f"{len(images)} images for {len(boxes)} boxes")
        sources = [lambda im=im: (im if isinstance(im, Image.Image) else _load_rgb(im)) for im in images]
        keys = [id(im) if isinstance(im, Image.Image) else str(im) for im in images]
    cache: dict = {}
    out = []
    for key, load, box in zip(keys, sources, boxes, strict=True):
        if key not in cache:
            cache[key] = load().convert("RGB")
        out.append(ImageOps.pad(cache[key].crop(tuple(box)), (size, size), color=(128, 128, 128)))
    return out


def _load_rgb(path: str | Path) -> Image.Image:
    with Image.open(path) as im:  # same loading as training (no EXIF rotation there either)
        return im.convert("RGB")


