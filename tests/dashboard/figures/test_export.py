"""Export: PNG at talk resolution, SVG that parses, PDF with the figure in it."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from pypdf import PdfReader

from dashboard.figures import export

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def picture(w=200, h=120) -> Image.Image:
    rng = np.random.default_rng(0)
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (200, 30, 30)
    a[:, w // 2:] = rng.integers(0, 255, (h, w - w // 2, 3))
    return Image.fromarray(a)


def bar_chart() -> go.Figure:
    fig = go.Figure(go.Bar(x=["tokyo", "paris", "seoul"], y=[3, 1, 2], marker_color="#d62728"))
    fig.update_layout(title="errors", width=800, height=450)
    return fig


def mpl_figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    ax.bar(["a", "b"], [1, 2], color="red")
    return fig


def check_png(data: bytes, width: int | None = export.TALK_WIDTH) -> Image.Image:
    assert data[:8] == PNG_SIGNATURE
    im = Image.open(io.BytesIO(data))
    im.load()
    if width is not None:
        assert im.width == width
    return im


def check_svg(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag.endswith("svg")
    return root


def read_pdf(data: bytes):
    """The one page of a PDF, parsed by pypdf: (width pt, height pt, its text, its images)."""
    assert data[:5] == b"%PDF-" and b"%%EOF" in data[-1024:]
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    box = page.mediabox
    return float(box.width), float(box.height), page.extract_text(), [i.image for i in page.images]


# ----------------------------------------------------------------------- pictures
def test_picture_png_is_talk_width_and_keeps_aspect():
    im = check_png(export.figure_bytes(picture(200, 120), "png"))
    assert im.height == round(120 * export.TALK_WIDTH / 200)


def test_large_picture_png_is_not_shrunk():
    check_png(export.figure_bytes(picture(2400, 100), "png"), width=2400)


def test_picture_svg_embeds_the_png():
    root = check_svg(export.figure_bytes(np.asarray(picture()), "svg"))
    img = [e for e in root.iter() if e.tag.endswith("image")]
    assert len(img) == 1 and img[0].get("width") == "200"


def test_picture_pdf_holds_the_picture():
    w, h, _, pictures = read_pdf(export.figure_bytes(picture(), "pdf"))
    assert abs(w / h - 200 / 120) < 0.01
    assert len(pictures) == 1 and pictures[0].size == (200, 120)
    r, g, b = np.asarray(pictures[0].convert("RGB"))[60, 50]
    assert r > 150 and g < 90 and b < 90  # the red half is red


def test_unknown_format_and_type_fail_with_one_line():
    with pytest.raises(export.ExportError, match="choose one of png, svg, pdf"):
        export.figure_bytes(picture(), "eps")
    with pytest.raises(export.ExportError, match="cannot export a dict"):
        export.figure_bytes({"a": 1}, "png")


# -------------------------------------------------------------------- matplotlib
def test_matplotlib_formats():
    fig = mpl_figure()
    check_png(export.figure_bytes(fig, "png"))
    check_svg(export.figure_bytes(fig, "svg"))
    w, h, text, _ = read_pdf(export.figure_bytes(fig, "pdf"))
    assert (w, h) == (8 * 72, 4.5 * 72)  # the figure's size, as vector graphics
    assert text.split()[:2] == ["a", "b"] and "2.00" in text  # its tick labels are text


# ------------------------------------------------------------------------ plotly
def test_plotly_png_svg_pdf():
    """Needs Chromium (kaleido drives it): `make test` installs Debian's."""
    fig = bar_chart()
    im = check_png(export.figure_bytes(fig, "png"))
    assert im.height == round(450 * export.TALK_WIDTH / 800)
    a = np.asarray(im.convert("RGB")).reshape(-1, 3)
    assert ((a[:, 0] > 180) & (a[:, 1] < 80) & (a[:, 2] < 80)).any()  # the red bars are drawn
    root = check_svg(export.figure_bytes(fig, "svg"))
    assert "tokyo" in ET.tostring(root, encoding="unicode")
    w, h, text, _ = read_pdf(export.figure_bytes(fig, "pdf"))
    assert abs(w / h - 800 / 450) < 0.01
    assert "tokyo paris seoul" in text and "errors" in text  # bars' labels and title as text


def test_no_browser_gives_one_clear_line(monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    problem = export.chart_export_problem()
    assert problem is not None and "\n" not in problem
    assert "Chromium" in problem and "BROWSER_PATH" in problem
    with pytest.raises(export.ExportError) as info:
        export.figure_bytes(bar_chart(), "png")
    assert str(info.value) == problem


def test_slug():
    assert export.slug("Mean Grad-CAM / city (test)") == "mean-grad-cam-city-test"
    assert export.slug("  ") == "figure"
