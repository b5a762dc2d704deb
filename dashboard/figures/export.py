"""Figures → files for a talk: PNG at talk resolution, SVG and PDF bytes (the talk pack —
a zip of chosen figures plus a one-page summary of the run — is ``talk_pack.py``).

Pure functions, no Streamlit: the pages' download buttons (``dashboard/export_ui.py``)
and scripts use the same code.

Three kinds of figure are handled:

* plotly figures (charts, the UMAP, heatmaps) are rendered by plotly's own static
  export, kaleido ≥ 1, which drives a headless Chrome/Chromium. Debian's
  ``/usr/bin/chromium`` is found on ``PATH`` (or set ``BROWSER_PATH``); nothing is
  downloaded. One browser is kept running for the process (the first export takes a
  few seconds, later ones ~0.3 s). Without kaleido or a browser the export fails with
  one line saying what to install (:func:`chart_export_problem`).
* matplotlib figures (small multiples of maps, concept cards, the summary page) are
  saved natively in all three formats.
* pictures (PIL images or uint8 arrays: overlays, grids) are PNG as they are (upscaled to
  the talk width when smaller), PDF via PIL, and SVG as the PNG embedded in an SVG.
"""

from __future__ import annotations

import atexit
import base64
import io
import os
import re
import shutil
import threading

import numpy as np
from PIL import Image

TALK_WIDTH = 1920
"""Width in pixels of an exported PNG: full-HD slides."""
CHART_WIDTH = 960
"""Logical width of a plotly chart on export when it sets none (rendered at 2×)."""
CHART_HEIGHT = 540
FORMATS: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


class ExportError(RuntimeError):
    """A figure that cannot be exported; the message is one line saying what to do."""


# ----------------------------------------------------------------------------- helpers
def slug(name: str) -> str:
    """A file-name-safe version of a figure name (``"Mean Grad-CAM / city"`` →
    ``"mean-grad-cam-city"``)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-._").lower()
    return s or "figure"


def kind_of(fig) -> str:
    """``plotly``, ``matplotlib`` or ``image`` (PIL image or array)."""
    if isinstance(fig, Image.Image) or isinstance(fig, np.ndarray):
        return "image"
    module = type(fig).__module__
    if module.startswith("plotly"):
        return "plotly"
    if module.startswith("matplotlib"):
        return "matplotlib"
    raise ExportError(f"cannot export a {type(fig).__name__}: expected a plotly figure, a "
                      "matplotlib figure or an image")


def _as_pil(img) -> Image.Image:
    if isinstance(img, Image.Image):
        return img.convert("RGB") if img.mode not in ("RGB", "RGBA") else img
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


# ----------------------------------------------------------------------------- plotly
_kaleido_lock = threading.Lock()
_kaleido_server = {"started": False}


def find_browser() -> str | None:
    """The Chrome/Chromium kaleido will use: ``BROWSER_PATH`` if set, else the first
    one on ``PATH`` or in the usual places (choreographer's own search)."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env if os.path.isfile(env) and os.access(env, os.X_OK) else None
    try:
        from choreographer.browsers.chromium import Chromium

        return Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001 - any failure means "not found"
        for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
            if path := shutil.which(name):
                return path
        return None


def chart_export_problem() -> str | None:
    """Why plotly figures cannot be exported here (one line), or None when they can."""
    try:
        from importlib.metadata import version
        from importlib.util import find_spec

        if find_spec("kaleido") is None:
            raise ImportError("kaleido")
        major = int(version("kaleido").split(".")[0])
    except Exception:  # noqa: BLE001 - missing or broken install
        return ("PNG/SVG/PDF export of charts needs kaleido: "
                "pip install 'kaleido>=1' (and Chrome or Chromium)")
    if major < 1:
        return "PNG/SVG/PDF export of charts needs kaleido >= 1: pip install -U 'kaleido>=1'"
    if find_browser() is None:
        where = f" (BROWSER_PATH={os.environ['BROWSER_PATH']} is not an executable)" \
            if os.environ.get("BROWSER_PATH") else ""
        return ("PNG/SVG/PDF export of charts needs Chrome or Chromium"
                f"{where}: install it (Debian: apt-get install chromium) or set BROWSER_PATH")
    return None


def _stop_kaleido() -> None:
    try:
        import kaleido

        kaleido.stop_sync_server(silence_warnings=True)
    except Exception:  # noqa: BLE001 - best effort at exit
        pass


def _ensure_kaleido_server() -> None:
    """One browser for the whole process (started on first use, stopped at exit)."""
    if _kaleido_server["started"]:
        return
    import kaleido

    try:
        kaleido.start_sync_server(silence_warnings=True)
        atexit.register(_stop_kaleido)
    except Exception:  # noqa: BLE001 - fall back to one browser per export
        pass
    _kaleido_server["started"] = True


def chart_size(fig) -> tuple[int, int]:
    """Logical (width, height) a plotly figure is exported at."""
    width = fig.layout.width or CHART_WIDTH
    height = fig.layout.height or CHART_HEIGHT
    return int(width), int(height)


def plotly_bytes(fig, fmt: str, width: int | None = None, height: int | None = None) -> bytes:
    """PNG (``TALK_WIDTH`` pixels wide), SVG or PDF of a plotly figure via kaleido."""
    problem = chart_export_problem()
    if problem:
        raise ExportError(problem)
    import warnings

    import plotly.io as pio

    w, h = chart_size(fig)
    w, h = width or w, height or h
    scale = TALK_WIDTH / w if fmt == "png" else 1
    with _kaleido_lock:
        _ensure_kaleido_server()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "kopts ignored when using a server"
                return pio.to_image(fig, format=fmt, width=w, height=h, scale=scale)
        except Exception as exc:  # noqa: BLE001 - kaleido/browser failures vary
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"chart export failed ({first}); check that Chromium starts: "
                              "chromium --headless --no-sandbox --dump-dom about:blank") from exc


# ----------------------------------------------------------------------------- matplotlib
def matplotlib_bytes(fig, fmt: str) -> bytes:
    """PNG (``TALK_WIDTH`` pixels wide), SVG or PDF of a matplotlib figure."""
    buf = io.BytesIO()
    width_in = fig.get_size_inches()[0]
    dpi = TALK_WIDTH / width_in if fmt == "png" else 72
    fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white")
    return buf.getvalue()


# ----------------------------------------------------------------------------- pictures
def image_bytes(img, fmt: str, min_width: int = TALK_WIDTH) -> bytes:
    """A picture as PNG (upscaled to at least ``min_width`` pixels, never shrunk), PDF
    (one page the size of the picture at 150 dpi) or SVG (the PNG embedded)."""
    pil = _as_pil(img)
    if fmt == "png":
        if pil.width < min_width:
            h = round(pil.height * min_width / pil.width)
            pil = pil.resize((min_width, h), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        pil.save(buf, "PNG", compress_level=6)
        return buf.getvalue()
    if fmt == "pdf":
        buf = io.BytesIO()
        rgb = pil.convert("RGB")
        rgb.save(buf, "PDF", resolution=150.0)
        return buf.getvalue()
    if fmt == "svg":
        png = io.BytesIO()
        pil.save(png, "PNG", compress_level=6)
        data = base64.b64encode(png.getvalue()).decode("ascii")
        w, h = pil.size
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<svg xmlns="http://www.w3.org/2000/svg" '
                f'xmlns:xlink="http://www.w3.org/1999/xlink" width="{w}" height="{h}" '
                f'viewBox="0 0 {w} {h}"><image width="{w}" height="{h}" '
                f'xlink:href="data:image/png;base64,{data}" href="data:image/png;base64,{data}"/>'
                f"</svg>\n").encode("utf-8")
    raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def figure_bytes(fig, fmt: str) -> bytes:
    """Any supported figure as ``png``, ``svg`` or ``pdf`` bytes."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    kind = kind_of(fig)
    if kind == "plotly":
        return plotly_bytes(fig, fmt)
    if kind == "matplotlib":
        return matplotlib_bytes(fig, fmt)
    return image_bytes(fig, fmt)
