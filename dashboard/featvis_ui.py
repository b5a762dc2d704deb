"""Feature visualisations on the pages: every channel or concept icon is a real picture.

``featvis_picture(sel, kind, index)`` gives the picture of one unit, ``featvis_pictures(sel,
items)`` of several: read from the run's cache when the ``featvis`` stage (or an earlier
visit) rendered it, else rendered now — under a spinner with a progress bar, all the
missing ones of a call in as few optimisations as possible — by
:mod:`analysis.precompute.featvis_on_demand` with the cache's own settings, and saved
there for the next visit and for exports. Pages only show what these return.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from pathlib import Path

import streamlit as st
from PIL import Image

from analysis.precompute import featvis_on_demand as fod
from dashboard import state
from dashboard.figures import images

Item = tuple[str, int]
# one render at a time per process: sessions share the cached model, and a render puts
# hooks on it and changes its modes for the duration
_RENDER_LOCK = threading.Lock()
RENDER_LOCK = _RENDER_LOCK  # for other on-demand renders (the Atlas page's cells)


@st.cache_data(show_spinner=False, max_entries=4096)
def _png(path: str, mtime: float) -> bytes:
    return Path(path).read_bytes()


def _read(path: Path) -> Image.Image | None:
    try:
        return Image.open(io.BytesIO(_png(str(path), path.stat().st_mtime))).convert("RGB")
    except OSError:
        return None


def _unavailable(item: Item) -> Image.Image:
    kind, index = item
    return images.placeholder_icon(128, f"{'ch' if kind == 'channel' else 'c'} {index}: n/a")


def render_missing(sel: state.Selection, items: Sequence[Item]) -> str | None:
    """Render the pictures of ``items`` that are not in the cache (spinner and progress
    bar while it runs); None, or one line saying why it failed."""
    todo = fod.missing(sel.cache, items)
    if not todo:
        return None
    what = f"{len(todo)} feature visualisation{'s' if len(todo) > 1 else ''}"
    settings = fod.FeatvisSettings.for_cache(sel.cache)
    with st.spinner(f"Rendering {what} ({settings.steps} steps at {settings.size} px; saved for "
                    f"the next visit) …"):
        bar = st.progress(0.0, text=f"rendering {what}")

        def on_step(done: int, total: int) -> None:
            if done == total or done % 4 == 0:
                bar.progress(min(done / max(total, 1), 1.0), text=f"rendering {what}: step {done} of {total}")

        try:
            with _RENDER_LOCK:
                fod.ensure_pictures(sel.cache, sel.run, lambda: state.get_model(sel.run), todo, on_step=on_step)
        except (OSError, ValueError, RuntimeError) as e:
            return f"Could not render {what}: {str(e).splitlines()[0] if str(e) else type(e).__name__}."
        finally:
            bar.empty()
    return None


def featvis_pictures(sel: state.Selection, items: Sequence[Item]) -> dict[Item, Image.Image]:
    """(kind, index) → its feature visualisation for each of ``items`` ("channel" or
    "concept"); those not rendered yet are rendered now, in one call."""
    items = [(str(k), int(i)) for k, i in items]
    problem = render_missing(sel, items)
    if problem:
        st.warning(problem)
    out = {}
    for item in items:
        out[item] = _read(sel.cache.featvis_path(*item)) or _unavailable(item)
    return out


def featvis_picture(sel: state.Selection, kind: str, index: int) -> Image.Image:
    """The feature visualisation of channel or concept ``index`` (rendered now if needed)."""
    return featvis_pictures(sel, [(kind, index)])[(kind, int(index))]
