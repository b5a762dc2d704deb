"""Figures → files for a talk: PNG at talk resolution, SVG and PDF bytes, and the talk
pack (a zip of chosen figures plus a one-page summary of the run).

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
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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


# ----------------------------------------------------------------------------- summary
@dataclass
class RunSummary:
    """What the one-page summary of a run says."""

    run: str
    dataset: str
    n_images: int | None
    model: str  # backbone, weights, mode
    metrics: list[dict] = field(default_factory=list)  # split, head, accuracy, macro_f1, n
    per_class: list[dict] = field(default_factory=list)  # class, precision, recall (test)
    top_concepts: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def run_summary(info: Mapping, importance=None, n_top: int = 3, notes: Sequence[str] = ()) -> RunSummary:
    """Build the summary from a run's info (``Run.info``) and, when the concepts
    stage ran, the concept importance table (city head: the ``n_top`` concepts with the
    largest positive importance per class)."""
    cfg = info.get("config", {})
    ds = info.get("dataset", {})
    metrics = []
    for split in ("val", "test"):
        for head in ("city", "group"):
            m = info.get("metrics", {}).get(split, {}).get(head)
            if m:
                metrics.append({"split": split, "head": head, "accuracy": m.get("accuracy"),
                                "macro_f1": m.get("macro_f1"), "n": m.get("n")})
    per_class = []
    test_city = info.get("metrics", {}).get("test", {}).get("city", {})
    for cls, v in (test_city.get("per_class") or {}).items():
        per_class.append({"class": cls, "precision": v.get("precision"), "recall": v.get("recall"),
                          "support": v.get("support")})
    top: dict[str, list[tuple[int, float]]] = {}
    if importance is not None and len(importance):
        city = importance[importance["head"] == "city"]
        for cls, rows in city.groupby("target", sort=True):
            rows = rows[rows["importance"] > 0].sort_values("importance", ascending=False)
            top[str(cls)] = [(int(r.concept), float(r.importance)) for r in rows.head(n_top).itertuples()]
    model = " · ".join(str(x) for x in (cfg.get("backbone"), cfg.get("weights"), cfg.get("mode")) if x)
    return RunSummary(run=str(info.get("name") or cfg.get("name") or "run"),
                      dataset=str(ds.get("name") or cfg.get("dataset") or "?"),
                      n_images=ds.get("n_images"), model=model, metrics=metrics,
                      per_class=per_class, top_concepts=top, notes=list(notes))


def _pct(x) -> str:
    return "–" if x is None else f"{100 * float(x):.1f} %"


def summary_markdown(s: RunSummary) -> str:
    lines = [f"# {s.run}", "", f"- dataset: **{s.dataset}**"
             + (f" ({s.n_images} images)" if s.n_images else ""), f"- model: {s.model}", ""]
    if s.metrics:
        lines += ["| split | head | accuracy | macro-F1 | images |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {m['split']} | {m['head']} | {_pct(m['accuracy'])} | {_pct(m['macro_f1'])} | "
                  f"{m['n'] if m['n'] is not None else '–'} |" for m in s.metrics]
        lines.append("")
    if s.per_class:
        lines += ["## Test set, per city", "", "| city | precision | recall | images |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| {r['class']} | {_pct(r['precision'])} | {_pct(r['recall'])} | "
                  f"{r['support'] if r['support'] is not None else '–'} |" for r in s.per_class]
        lines.append("")
    if s.top_concepts:
        lines += ["## Concepts that drive each city (importance)", ""]
        for cls, items in s.top_concepts.items():
            text = ", ".join(f"concept {k} ({v:+.3f})" for k, v in items) or "none positive"
            lines.append(f"- **{cls}**: {text}")
        lines.append("")
    lines += [f"- {n}" for n in s.notes]
    return "\n".join(lines).rstrip() + "\n"


def summary_figure(s: RunSummary, featvis: Mapping[int, Image.Image] | None = None):
    """A one-page (A4 landscape) matplotlib figure: run, dataset, model, the metrics
    table, per-city precision/recall on test, the top concepts per city (with their
    feature visualisations when given)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.69, 8.27))
    fig.text(0.04, 0.95, s.run, fontsize=20, weight="bold", va="top")
    sub = f"dataset {s.dataset}" + (f" · {s.n_images} images" if s.n_images else "") + f" · {s.model}"
    fig.text(0.04, 0.895, sub, fontsize=11, color="#444444", va="top")

    def table(ax, header, rows, title):
        ax.axis("off")
        ax.set_title(title, loc="left", fontsize=12, weight="bold")
        if not rows:
            ax.text(0, 0.9, "not available", fontsize=10, color="#777777", transform=ax.transAxes)
            return
        t = ax.table(cellText=rows, colLabels=header, loc="upper left", cellLoc="left",
                     colLoc="left")
        t.auto_set_font_size(False)
        t.set_fontsize(9)
        t.scale(1, 1.25)
        for (r, _), cell in t.get_celld().items():
            cell.set_edgecolor("#dddddd")
            if r == 0:
                cell.set_facecolor("#eeeeee")
                cell.set_text_props(weight="bold")

    ax = fig.add_axes((0.04, 0.58, 0.42, 0.24))
    table(ax, ["split", "head", "accuracy", "macro-F1", "images"],
          [[m["split"], m["head"], _pct(m["accuracy"]), _pct(m["macro_f1"]),
            "–" if m["n"] is None else str(m["n"])] for m in s.metrics], "Metrics")
    ax = fig.add_axes((0.04, 0.05, 0.42, 0.46))
    table(ax, ["city", "precision", "recall", "images"],
          [[r["class"], _pct(r["precision"]), _pct(r["recall"]),
            "–" if r["support"] is None else str(r["support"])] for r in s.per_class],
          "Test set, per city")

    ax = fig.add_axes((0.52, 0.05, 0.45, 0.77))
    ax.axis("off")
    ax.set_title("Concepts that drive each city", loc="left", fontsize=12, weight="bold")
    if not s.top_concepts:
        ax.text(0, 0.95, "no concept analysis for this run", fontsize=10, color="#777777",
                transform=ax.transAxes)
    n = max(len(s.top_concepts), 1)
    step = min(0.09, 0.97 / n)
    bbox = ax.get_position()
    aspect = (bbox.height * fig.get_figheight()) / (bbox.width * fig.get_figwidth())
    for i, (cls, items) in enumerate(s.top_concepts.items()):
        y = 0.96 - i * step
        ax.text(0.0, y, cls, fontsize=10, weight="bold", va="center", transform=ax.transAxes)
        for j, (k, v) in enumerate(items):
            x = 0.25 + j * 0.25
            if featvis and k in featvis:
                icon = np.asarray(featvis[k].convert("RGB"))
                size = step * 0.9  # icon height in axes units; width keeps it square
                wide = size * aspect
                ax.imshow(icon, extent=(x, x + wide, y - size / 2, y + size / 2),
                          aspect="auto", zorder=2)
                x += wide + 0.01
            ax.text(x, y, f"#{k}  {v:+.2f}", fontsize=9, va="center", transform=ax.transAxes)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    if s.notes:
        fig.text(0.04, 0.015, " · ".join(s.notes[:3]), fontsize=8, color="#777777")
    return fig


def summary_pdf(s: RunSummary, featvis: Mapping[int, Image.Image] | None = None) -> bytes:
    return matplotlib_bytes(summary_figure(s, featvis), "pdf")


# ----------------------------------------------------------------------------- talk pack
def talk_pack(figures: Mapping[str, object], summary: RunSummary, *,
              formats: Sequence[str] = ("png", "pdf"),
              featvis: Mapping[int, Image.Image] | None = None,
              progress=None) -> tuple[bytes, list[str]]:
    """A zip for a talk: ``figures/NN-<name>.<fmt>`` for every figure and format, plus
    ``summary.pdf`` and ``summary.md``. Returns (zip bytes, problems): a figure that
    cannot be exported is left out and named in ``problems`` (one line each) instead of
    failing the whole pack. ``progress(i, n, name)`` is called before each figure."""
    buf = io.BytesIO()
    problems: list[str] = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        items = list(figures.items())
        for i, (name, fig) in enumerate(items, 1):
            if progress:
                progress(i, len(items), name)
            for fmt in formats:
                try:
                    data = figure_bytes(fig, fmt)
                except ExportError as exc:
                    problems.append(f"{name} ({fmt}): {exc}")
                    continue
                z.writestr(f"figures/{i:02d}-{slug(name)}.{fmt}", data)
        z.writestr("summary.pdf", summary_pdf(summary, featvis))
        md = summary_markdown(summary)
        if problems:
            md += "\n## Left out\n\n" + "\n".join(f"- {p}" for p in problems) + "\n"
        z.writestr("summary.md", md)
    return buf.getvalue(), problems
