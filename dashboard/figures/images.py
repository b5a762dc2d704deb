"""Pictures: maps laid over photos, grids, thumbnail strips. Pure functions (numpy / PIL in,
``uint8`` (H, W, 3) arrays or PIL images out), shared by the pages and export.

Colour maps
-----------
* Unsigned maps (Grad-CAM, contrastive Grad-CAM, saliency): ``DEFAULT_CMAP = "jet"``, the
  colour map of pytorch-grad-cam's ``show_cam_on_image`` (and of the original study's
  figures), so pictures look like the ones people know. It is not perceptually uniform;
  ``"turbo"`` (a smoother jet), ``"inferno"`` and ``"viridis"`` are offered as
  alternatives (``CMAPS``). Low = blue, high = red.
* Signed maps (integrated gradients, guided backprop): ``SIGNED_CMAP = "RdBu_r"``, a
  diverging map — red = evidence *for* the target, blue = *against*; the overlay's
  opacity grows with |value| so that zero leaves the photo untouched.
* Neuron groups / concepts: one qualitative colour each (``GROUP_COLORS``, Tableau 10).

Map post-processing follows pytorch-grad-cam exactly (``analysis.explain.gradcam.display_map``:
min-max normalise, bilinear upsample to the photo, normalise again). Blending: ``mode="blend"``
is ``(1 − opacity)·photo + opacity·colour`` everywhere (pytorch-grad-cam's look, without its
final division by the maximum, which brightens the photo); ``mode="mask"`` uses a per-pixel
opacity ``opacity·value``, so cold regions show the photo as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from analysis.explain.cam_views import display_array, resize_bilinear, to_display_array

DEFAULT_CMAP = "jet"
SIGNED_CMAP = "RdBu_r"
CMAPS = ("jet", "turbo", "inferno", "viridis")
GROUP_COLORS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)
"""Tableau 10: one distinguishable colour per neuron group / concept (cycled)."""

PLACEHOLDER_GREY = (214, 217, 222)


# ------------------------------------------------------------------------- conversions
def to_rgb_array(image) -> np.ndarray:
    """Any picture as ``uint8`` (H, W, 3): a PIL image, a path, a float array in [0, 1],
    a ``uint8`` array, grayscale (H, W) or RGBA."""
    if isinstance(image, (str, Path)):
        with Image.open(image) as im:
            return np.asarray(im.convert("RGB"))
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"image must be (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    a = a[..., :3]
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.clip(a, 0, 255).astype(np.uint8)


def to_pil(image) -> Image.Image:
    """A PIL RGB image of anything ``to_rgb_array`` takes."""
    return image.convert("RGB") if isinstance(image, Image.Image) else Image.fromarray(to_rgb_array(image))


def resize_map(m, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a (h, w) map to (H, W), sampled like pytorch-grad-cam's
    ``cv2.resize``; float32 out (float16 memmaps welcome)."""
    m = np.asarray(m, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"map must be (h, w), got shape {m.shape}")
    if m.shape == tuple(size):
        return m
    return resize_bilinear(m, tuple(size))


def prepare_map(m, size: tuple[int, int], normalise: bool = True) -> np.ndarray:
    """A non-negative map ready to colour, at (H, W), values in [0, 1]: pytorch-grad-cam's
    ``display_map`` when ``normalise`` (min-max, upsample, min-max), else upsampled and
    clipped to [0, 1]."""
    m = np.asarray(m, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"map must be (h, w), got shape {m.shape}")
    if normalise:
        return display_array(m, tuple(size))
    return np.clip(resize_map(m, size), 0.0, 1.0)


# ------------------------------------------------------------------------- colour maps
@lru_cache(maxsize=32)
def _lut(cmap: str) -> np.ndarray:
    import matplotlib

    try:
        cm = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"unknown colour map {cmap!r}; try one of {', '.join(CMAPS)}") from None
    return (cm(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)


def colorize(m, cmap: str = DEFAULT_CMAP, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """(H, W) values → ``uint8`` (H, W, 3) colours of ``cmap`` (values outside
    [vmin, vmax] are clipped)."""
    m = np.asarray(m, dtype=np.float32)
    scaled = (m - vmin) / max(vmax - vmin, 1e-12)
    idx = np.clip(np.nan_to_num(scaled) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return _lut(cmap)[idx]


def colorbar(cmap: str = DEFAULT_CMAP, width: int = 256, height: int = 12) -> np.ndarray:
    """A horizontal colour bar (low → high, left → right) as ``uint8`` (height, width, 3)."""
    return colorize(np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1)), cmap)


def _blend(photo: np.ndarray, colour: np.ndarray, alpha) -> np.ndarray:
    alpha = np.asarray(alpha, dtype=np.float32)
    if alpha.ndim == 2:
        alpha = alpha[..., None]
    out = (1.0 - alpha) * photo.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------- overlays
def overlay(image, heat, opacity: float = 0.5, cmap: str = DEFAULT_CMAP, normalise: bool = True,
            mode: str = "blend") -> np.ndarray:
    """A non-negative map (any resolution, e.g. a 7×7 Grad-CAM) laid over the photo.

    ``heat`` is upsampled to the photo's size (``prepare_map``); ``opacity`` in [0, 1] is the
    map's weight (0 = photo only). ``mode="blend"`` colours everywhere (pytorch-grad-cam's
    look), ``"mask"`` lets cold regions show the photo. Returns ``uint8`` (H, W, 3).
    """
    if mode not in ("blend", "mask"):
        raise ValueError(f"mode must be 'blend' or 'mask', got {mode!r}")
    photo = to_rgb_array(image)
    m = prepare_map(heat, photo.shape[:2], normalise)
    opacity = float(np.clip(opacity, 0.0, 1.0))
    alpha = opacity if mode == "blend" else opacity * m
    return _blend(photo, colorize(m, cmap), alpha)


def gradcam_overlay(image, raw, k: int, opacity: float = 0.5, cmap: str = DEFAULT_CMAP,
                    mode: str = "blend") -> np.ndarray:
    """Grad-CAM of output ``k`` over the photo. ``raw`` is ONE image's stored signed maps
    (K, h, w) (one row of the ``cams`` artefact: every class, then every group)."""
    from analysis.explain.cam_views import gradcam_map

    return overlay(image, gradcam_map(np.asarray(raw, dtype=np.float32), k), opacity, cmap, mode=mode)


def contrastive_overlay(image, raw, a: int, b: int, opacity: float = 0.5, cmap: str = DEFAULT_CMAP,
                        mode: str = "blend") -> np.ndarray:
    """"Why ``a`` rather than ``b``": ReLU(raw_a − raw_b) over the photo (``raw`` (K, h, w))."""
    from analysis.explain.cam_views import contrastive_map

    return overlay(image, contrastive_map(np.asarray(raw, dtype=np.float32), a, b), opacity, cmap,
                   mode=mode)


def scale_signed(m, percentile: float = 99.0) -> np.ndarray:
    """Divide by the ``percentile``-th percentile of |m| and clip to [-1, 1]: the analysis's
    ``to_display(signed=True)`` for one map (its numpy twin: no PyTorch to show a stored
    map); zero stays zero."""
    return to_display_array(m, signed=True, percentile=percentile)


def signed_overlay(image, m, opacity: float = 0.8, cmap: str = SIGNED_CMAP, percentile: float = 99.0
                   ) -> np.ndarray:
    """A signed map (e.g. integrated gradients, guided backprop) over the photo, diverging
    colours (red = for, blue = against), opacity ∝ |value| so that zero shows the photo.
    ``m`` at any resolution; scaled per image by the ``percentile`` of |m|."""
    photo = to_rgb_array(image)
    v = scale_signed(resize_map(m, photo.shape[:2]), percentile)
    colour = colorize((v + 1.0) / 2.0, cmap)
    return _blend(photo, colour, float(np.clip(opacity, 0, 1)) * np.abs(v))


def magnitude_overlay(image, m, opacity: float = 0.8, cmap: str = DEFAULT_CMAP,
                      percentile: float = 99.0) -> np.ndarray:
    """|m| (a pixel-level, unsigned view of any map) over the photo, opacity ∝ value;
    scaled per image by the ``percentile`` of |m| (gradients have a few extreme pixels)."""
    photo = to_rgb_array(image)
    v = np.abs(scale_signed(resize_map(m, photo.shape[:2]), percentile))
    return _blend(photo, colorize(v, cmap), float(np.clip(opacity, 0, 1)) * v)


def map_image(m, signed: bool = False, cmap: str | None = None, percentile: float = 99.0,
              size: tuple[int, int] | None = None) -> np.ndarray:
    """A map on its own (no photo), as pixel-level methods are usually shown: ``signed``
    maps in a diverging colour map (white = 0, red = for, blue = against), magnitudes in
    ``inferno`` (black = 0). Scaled per map by the ``percentile`` of |m|; resized to ``size``
    (H, W) if given. ``uint8`` (H, W, 3)."""
    m = np.asarray(m, dtype=np.float32)
    if size is not None:
        m = resize_map(m, size)
    v = scale_signed(m, percentile)
    if signed:
        return colorize((v + 1.0) / 2.0, cmap or SIGNED_CMAP)
    return colorize(np.abs(v), cmap or "inferno")


def tint_overlay(image, m, color: Sequence[int] = GROUP_COLORS[0], opacity: float = 0.75,
                 dim: float = 0.35) -> np.ndarray:
    """One map in one colour: the photo dimmed by ``dim`` where the map is cold, tinted with
    ``color`` where it is hot (opacity ∝ normalised value). For neuron groups and concepts."""
    photo = to_rgb_array(image)
    v = prepare_map(np.clip(np.asarray(m, dtype=np.float32), 0, None), photo.shape[:2])
    base = _blend(photo, np.zeros_like(photo), dim * (1.0 - v))
    colour = np.broadcast_to(np.asarray(color, dtype=np.uint8), photo.shape)
    return _blend(base, colour, float(np.clip(opacity, 0, 1)) * v)


def groups_overlay(image, maps, colors: Sequence[Sequence[int]] | None = None, opacity: float = 0.7
                   ) -> np.ndarray:
    """Several non-negative maps (k, h, w) at once: each pixel takes the colour of its
    strongest group, with opacity ∝ that group's value (relative to the strongest value of
    all groups). Building Blocks' "neuron groups" picture."""
    photo = to_rgb_array(image)
    maps = np.clip(np.asarray(maps, dtype=np.float32), 0, None)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (k, h, w), got shape {maps.shape}")
    colors = np.asarray(colors if colors is not None else
                        [GROUP_COLORS[i % len(GROUP_COLORS)] for i in range(len(maps))], dtype=np.uint8)
    if len(colors) < len(maps):
        raise ValueError(f"{len(maps)} maps but only {len(colors)} colours")
    up = np.stack([resize_map(m, photo.shape[:2]) for m in maps]) if len(maps) else \
        np.zeros((0, *photo.shape[:2]), np.float32)
    if not len(up) or up.max() <= 0:
        return photo.copy()
    winner = up.argmax(0)
    strength = np.take_along_axis(up, winner[None], 0)[0] / up.max()
    return _blend(photo, colors[winner], float(np.clip(opacity, 0, 1)) * np.sqrt(strength))


# ------------------------------------------------------------------ grids and thumbnails
@lru_cache(maxsize=8)
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def placeholder_icon(size: int = 64, text: str = "") -> Image.Image:
    """A neutral grey square (for a missing feature visualisation), optional short text."""
    im = Image.new("RGB", (size, size), PLACEHOLDER_GREY)
    draw = ImageDraw.Draw(im)
    draw.rectangle([0, 0, size - 1, size - 1], outline=(190, 193, 198))
    if text:
        font = _font(max(9, size // 6))
        box = draw.textbbox((0, 0), text, font=font)
        draw.text(((size - (box[2] - box[0])) / 2, (size - (box[3] - box[1])) / 2 - box[1]), text,
                  fill=(110, 114, 120), font=font)
    return im


def fit_square(image, size: int) -> Image.Image:
    """The picture scaled to ``size`` × ``size`` (no crop: a street's sides matter)."""
    return to_pil(image).resize((size, size), Image.BILINEAR)


def image_grid(images: Sequence, ncols: int | None = None, cell: int = 128, pad: int = 4,
               captions: Sequence[str] | None = None, borders: Sequence | None = None,
               background: Sequence[int] = (255, 255, 255), keep_columns: bool = False) -> Image.Image:
    """A grid of square cells (``cell`` px) with optional captions under each picture and
    optional coloured borders (one RGB tuple or None per picture). Returns a PIL image.
    ``keep_columns``: ``ncols`` columns even for fewer pictures (empty cells), so a picture
    shown at a fixed width keeps its cell size."""
    n = len(images)
    if n == 0:
        return Image.new("RGB", (cell, cell), tuple(background))
    ncols = max(1, ncols if keep_columns and ncols else min(ncols or n, n))
    nrows = -(-n // ncols)
    font = _font(max(10, cell // 10))
    cap_h = (font.getbbox("Ag")[3] + 6) if captions else 0
    width = ncols * cell + (ncols + 1) * pad
    height = nrows * (cell + cap_h) + (nrows + 1) * pad
    sheet = Image.new("RGB", (width, height), tuple(background))
    draw = ImageDraw.Draw(sheet)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        x, y = pad + c * (cell + pad), pad + r * (cell + cap_h + pad)
        sheet.paste(fit_square(img, cell), (x, y))
        border = borders[i] if borders is not None and i < len(borders) else None
        if border is not None:
            bw = max(2, cell // 32)
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], outline=tuple(border), width=bw)
        if captions and i < len(captions) and captions[i]:
            text = _ellipsize(draw, str(captions[i]), font, cell)
            draw.text((x + 1, y + cell + 2), text, fill=(40, 40, 40), font=font)
    return sheet


def _ellipsize(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def thumbnail_strip(images: Sequence, size: int = 96, captions: Sequence[str] | None = None,
                    borders: Sequence | None = None, pad: int = 4) -> Image.Image:
    """One row of square thumbnails (e.g. nearest neighbours), optional captions/borders."""
    return image_grid(images, ncols=max(1, len(images)), cell=size, pad=pad, captions=captions,
                      borders=borders)
