"""The talk pack: a zip of the figures a user picked (each as PNG and PDF) plus a one-page
summary of the run (PDF and Markdown). Pure functions, no Streamlit, like ``export.py``."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from dashboard.figures.export import ExportError, figure_bytes, matplotlib_bytes, slug


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
    concept_names: dict[int, str] = field(default_factory=dict)  # the names the pages show
    concept_measure: str = "importance"  # what the numbers of top_concepts are
    notes: list[str] = field(default_factory=list)


def run_summary(info: Mapping, importance=None, n_top: int = 3, notes: Sequence[str] = (),
                concept_names: Mapping[int, str] | None = None,
                portraits: Mapping[str, list[tuple[int, float]]] | None = None) -> RunSummary:
    """Build the summary from a run's info (``Run.info``) and, when the concepts
    stage ran, the concept importance table (city head: the ``n_top`` concepts with the
    largest positive importance per class). ``portraits`` (city → its portrait's concepts
    with their measured effect) replaces the importance when the concept effects exist:
    the summary then says what the Portrait pages say."""
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
                      per_class=per_class, notes=list(notes),
                      top_concepts={c: list(v)[:n_top] for c, v in portraits.items()} if portraits else top,
                      concept_names=dict(concept_names or {}),
                      concept_measure="effect when removed" if portraits else "importance")


def _concept(s: RunSummary, k: int, width: int | None = None) -> str:
    """A concept as the summary names it ("concept k" when it has no name; "#k" on the
    slide, where ``width`` limits it)."""
    name = s.concept_names.get(int(k), f"concept {k}" if width is None else f"#{k}")
    return name if width is None or len(name) <= width else name[:width - 1] + "…"


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
        lines += [f"## Concepts that drive each city ({s.concept_measure})", ""]
        for cls, items in s.top_concepts.items():
            text = ", ".join(f"{_concept(s, k)} ({v:+.3f})" for k, v in items) or "none positive"
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
            ax.text(x, y, f"{_concept(s, k, 18)}  {v:+.2f}", fontsize=9, va="center", transform=ax.transAxes)
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
