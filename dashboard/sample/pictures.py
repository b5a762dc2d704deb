"""Pictures the Sample page shows, at display size and cached (a sample change redraws
only what changed). Feature visualisations come from ``dashboard.featvis_ui``."""

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


def icon(picture: Image.Image, size: int = 64) -> np.ndarray:
    """A feature visualisation (``dashboard.featvis_ui``) as a square icon."""
    return images.to_rgb_array(images.fit_square(picture, size))


@st.cache_data(show_spinner=False, max_entries=512)
def thumbnail(path: str) -> np.ndarray:
    """A small photo for strips (a grey placeholder for a missing file)."""
    try:
        with Image.open(io.BytesIO(state.thumbnail_bytes(path))) as im:
            return np.asarray(im.convert("RGB"))
    except OSError:
        return images.to_rgb_array(images.placeholder_icon(160, "missing"))
