"""The talk pack: the run's one-page summary (numbers, concepts) and the zip of figures."""

from __future__ import annotations

import io
import zipfile

import pandas as pd

from dashboard.figures import talk_pack
from tests.dashboard.figures.test_export import bar_chart, check_png, mpl_figure, picture, read_pdf

INFO = {
    "name": "demo-run",
    "config": {"backbone": "tiny_cnn", "weights": "random", "mode": "finetune", "dataset": "tiny"},
    "dataset": {"name": "tiny", "n_images": 72},
    "metrics": {
        "val": {"city": {"accuracy": 0.75, "macro_f1": 0.7, "n": 12}, "group": {"accuracy": 0.9, "macro_f1": 0.88, "n": 12}},
        "test": {"city": {"accuracy": 0.5, "macro_f1": 0.45, "n": 12,
                          "per_class": {"paris": {"precision": 1.0, "recall": 0.5, "support": 4},
                                        "tokyo": {"precision": 0.25, "recall": 1.0, "support": 4}}},
                 "group": {"accuracy": 0.8, "macro_f1": 0.79, "n": 12}},
    },
}
IMPORTANCE = pd.DataFrame([
    {"concept": 0, "head": "city", "target": "paris", "importance": 0.5, "images": 4},
    {"concept": 1, "head": "city", "target": "paris", "importance": -0.2, "images": 4},
    {"concept": 0, "head": "city", "target": "tokyo", "importance": 0.1, "images": 4},
    {"concept": 1, "head": "city", "target": "tokyo", "importance": 0.9, "images": 4},
    {"concept": 0, "head": "group", "target": "East", "importance": 3.0, "images": 8},
])


def test_run_summary_and_markdown():
    s = talk_pack.run_summary(INFO, IMPORTANCE, n_top=2)
    assert s.run == "demo-run" and s.dataset == "tiny" and s.n_images == 72
    assert [(m["split"], m["head"]) for m in s.metrics] == [("val", "city"), ("val", "group"),
                                                           ("test", "city"), ("test", "group")]
    assert s.top_concepts == {"paris": [(0, 0.5)], "tokyo": [(1, 0.9), (0, 0.1)]}  # positive only
    md = talk_pack.summary_markdown(s)
    assert "| test | city | 50.0 % | 45.0 % | 12 |" in md
    assert "**tokyo**: concept 1 (+0.900), concept 0 (+0.100)" in md
    assert "| tokyo | 25.0 % | 100.0 % | 4 |" in md


def test_summary_pdf_holds_the_numbers_and_the_icon():
    s = talk_pack.run_summary(INFO, IMPORTANCE)
    w, h, text, pictures = read_pdf(talk_pack.summary_pdf(s, {1: picture(64, 64)}))
    assert (round(w), round(h)) == (842, 595)  # A4 landscape
    assert "test city 50.0 % 45.0 % 12" in text and "tokyo 25.0 % 100.0 % 4" in text
    assert "tokyo #1  +0.90 #0  +0.10" in text and text.rstrip().endswith("tiny_cnn · random · finetune")
    assert len(pictures) == 1  # concept 1's feature visualisation beside its row


def test_talk_pack_contains_every_figure_and_the_summary(tmp_path, monkeypatch):
    figures = {"Mean Grad-CAM": picture(), "Bars (mpl)": mpl_figure()}
    data, problems = talk_pack.talk_pack(figures, talk_pack.run_summary(INFO, IMPORTANCE))
    assert problems == []
    z = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(z.namelist()) == sorted([
        "figures/01-mean-grad-cam.png", "figures/01-mean-grad-cam.pdf",
        "figures/02-bars-mpl.png", "figures/02-bars-mpl.pdf", "summary.pdf", "summary.md"])
    check_png(z.read("figures/01-mean-grad-cam.png"))
    assert z.read("summary.pdf")[:5] == b"%PDF-"
    assert z.read("summary.md").decode().startswith("# demo-run")


def test_talk_pack_names_a_figure_it_could_not_export(monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    data, problems = talk_pack.talk_pack({"chart": bar_chart(), "pic": picture()},
                                      talk_pack.run_summary(INFO), formats=("png",))
    assert len(problems) == 1 and problems[0].startswith("chart (png): ")
    z = zipfile.ZipFile(io.BytesIO(data))
    assert "figures/02-pic.png" in z.namelist() and "figures/01-chart.png" not in z.namelist()
    assert "chart (png)" in z.read("summary.md").decode()


def test_summary_says_what_the_portraits_say_with_names():
    from dashboard.figures.talk_pack import run_summary, summary_markdown

    s = run_summary({"name": "r", "config": {}}, None, portraits={"tokyo": [(4, 0.33), (0, 0.06)]},
                    concept_names={4: "overhead wires (auto)"})
    md = summary_markdown(s)
    assert "## Concepts that drive each city (effect when removed)" in md
    assert "**tokyo**: overhead wires (auto) (+0.330), concept 0 (+0.060)" in md
