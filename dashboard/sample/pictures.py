"""Pictures the Sample page shows, at display size and cached (a sample change redraws
only what changed)."""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

from dashboard import state
from dashboard.figures import images

PHOTO_SIDE = 448  # the photo and its maps are shown at most this big (longest side, px)


@st.cache_data(show_spinner=False, max_entries=256)
def display_photo(path: str, max_side: int = PHOTO_SIDE) -> np.ndarray | None:
    """The photo at display size (longest side ≤ ``max_side``), or None if unreadable."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((max_side, max_side), Image.BILINEAR)
            return np.asarray(im)
    except OSError:
        return None


def small(photo: np.ndarray, side: int = 160) -> np.ndarray:
    """A displayed photo made smaller still (for strips of maps)."""
    im = Image.fromarray(photo)
    im.thumbnail((side, side), Image.BILINEAR)
    return np.asarray(im)


@st.cache_data(show_spinner=False)
def icon(path: str | None, text: str, size: int = 64) -> np.ndarray:
    """A feature visualisation as a square icon, or a grey placeholder saying ``text``."""
    if path:
        try:
            return images.to_rgb_array(images.fit_square(path, size))
        except OSError:
            pass
    return images.to_rgb_array(images.placeholder_icon(size, text))


@st.cache_data(show_spinner=False)
def _featvis(root: str, mtime: float, _sel) -> dict[tuple[str, int], str]:
    table = state.table(_sel.cache, "featvis")
    return {(k, int(i)): str(_sel.cache.resolve(f)) for k, i, f in zip(table["kind"], table["index"], table["file"])
            if _sel.cache.resolve(f).is_file()}


def featvis_icons(sel) -> dict[tuple[str, int], str]:
    """(kind, index) → feature-visualisation file of the run (those rendered)."""
    if not sel.cache.has("featvis"):
        return {}
    return _featvis(str(sel.cache.root), sel.cache.mtime("featvis"), sel)


@st.cache_data(show_spinner=False, max_entries=512)
def thumbnail(path: str) -> np.ndarray:
    """A small photo for strips (a grey placeholder for a missing file)."""
    try:
        with Image.open(io.BytesIO(state.thumbnail_bytes(path))) as im:
            return np.asarray(im.convert("RGB"))
    except OSError:
        return images.to_rgb_array(images.placeholder_icon(160, "missing"))
