"""Export in the dashboard: download buttons under every figure and the talk-pack builder.

* ``download_buttons(fig, name)`` puts PNG (talk resolution, 1920 px wide), SVG and PDF
  buttons under a figure. The files are made only when a button is clicked (Streamlit's
  deferred downloads), so a page with many figures loads as fast as without them. A plotly
  figure that cannot be exported here (no kaleido or no Chrome/Chromium) gets one line
  saying what to install, and an interactive HTML download instead.
  Every figure passed here is also remembered for the talk pack of this session.
* ``talk_pack_builder(sel)`` (sidebar or any container): pick figures — the run's standard
  figures, made from its analysis cache, plus the ones you looked at in this session —
  and download a zip with each as PNG + PDF and a one-page summary (PDF and Markdown).
* ``standard_figures`` and the cached builders below are shared by the pages and the
  talk pack, so a figure in the pack is the figure on the page.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from analysis.explain import mistakes
from analysis.precompute import concept_views, portrait_views
from dashboard import featvis_ui, state
from dashboard.concept_names import concept_labels, given_names
from dashboard.figures import atlas, export, talk_pack
from dashboard.figures import portrait as portrait_figures

REMEMBERED = "_talk_figures"
MAX_REMEMBERED = 40


# ------------------------------------------------------------------------ buttons
def _remember(fig, name: str) -> None:
    try:
        store = st.session_state.setdefault(REMEMBERED, OrderedDict())
    except Exception:  # noqa: BLE001 - outside a script run: nothing to remember
        return
    store.pop(name, None)
    store[name] = fig
    while len(store) > MAX_REMEMBERED:
        store.popitem(last=False)


def remembered_figures() -> dict:
    return dict(st.session_state.get(REMEMBERED, {}))


def _figure(fig_or_builder):
    """A figure, or what a zero-argument builder returns (figures themselves are not callable)."""
    return fig_or_builder() if callable(fig_or_builder) else fig_or_builder


def download_buttons(fig, name: str, container=None, formats=("png", "svg", "pdf"),
                     key: str | None = None, remember: bool = True, kind: str | None = None) -> None:
    """PNG / SVG / PDF download buttons for ``fig`` (plotly, matplotlib or a picture),
    files named ``<name>.<fmt>``; made only when clicked.

    ``fig`` may also be a zero-argument builder (with ``kind`` "plotly", "matplotlib" or
    "image", default "plotly"): a figure that is only for download — not shown on the page —
    is then drawn only when a button is clicked or the talk pack is built, not on every rerun."""
    container = container or st
    base = export.slug(name)
    key = key or f"dl-{base}"
    if remember:
        _remember(fig, name)
    if callable(fig):
        kind, figure = kind or "plotly", functools.cache(fig)  # drawn on the first click only
    else:
        kind, figure = export.kind_of(fig), (lambda: fig)
    problem = export.chart_export_problem() if kind == "plotly" else None
    box = container.popover("Download", icon=":material/download:", type="tertiary",
                            help=f"{name}: PNG ({export.TALK_WIDTH} px wide), SVG, PDF")
    if problem:
        box.caption(problem)
        box.download_button(
            "Interactive HTML", data=lambda: figure().to_html(include_plotlyjs=True, full_html=True),
            file_name=f"{base}.html", mime="text/html", key=f"{key}-html", on_click="ignore",
            width="stretch", help="the chart as it is on the page; opens in any browser")
        return
    helps = {"png": f"{export.TALK_WIDTH} px wide, for slides", "svg": "vector, editable",
             "pdf": "vector, for print and LaTeX"}
    for fmt in formats:
        box.download_button(
            f"{fmt.upper()} — {helps[fmt]}", data=(lambda fmt=fmt: export.figure_bytes(figure(), fmt)),
            file_name=f"{base}.{fmt}", mime=export.FORMATS[fmt], key=f"{key}-{fmt}",
            on_click="ignore", width="stretch")


# ------------------------------------------------------------------ cached sources
def mean_cam_picture(sel: state.Selection, ncols: int = 5, cell: int = 180) -> Image.Image:
    """Small multiples of each class's mean Grad-CAM over its mean photo (the
    ``class_means`` stage)."""
    maps = np.asarray(state.array(sel.cache, "mean_cams"))
    counts = state.table(sel.cache, "mean_cam_counts")["images"].to_numpy()
    photos = list(np.asarray(state.array(sel.cache, "mean_photos")))
    return atlas.mean_cam_grid(maps, sel.labels.classes, counts, photos, ncols=ncols, cell=cell)


@st.cache_data(show_spinner=False, max_entries=2048)
def cache_png(path: str) -> bytes:
    return Path(path).read_bytes()


def cache_picture(sel: state.Selection, rel: str | None) -> Image.Image | None:
    """A PNG of the cache (feature visualisation, patch) as a PIL image, or None."""
    if not rel:
        return None
    p = sel.cache.resolve(rel)
    if not p.is_file():
        return None
    import io

    return Image.open(io.BytesIO(cache_png(str(p)))).convert("RGB")


def featvis_files(sel: state.Selection) -> dict[tuple[str, int], str]:
    """(kind, index) → file of the feature visualisations the ``featvis`` stage rendered
    (those on disk). Any unit's picture, rendered now if need be: ``featvis_ui``."""
    if not sel.cache.has("featvis"):
        return {}
    fv = state.table(sel.cache, "featvis")
    return {(r.kind, int(r.index)): r.file for r in fv.itertuples()
            if sel.cache.resolve(r.file).is_file()}


def concept_cards(sel: state.Selection, n_patches: int = 6) -> list[atlas.ConceptCard]:
    imp = state.table(sel.cache, "concept_importance")
    names = concept_labels(sel.cache)
    patches = state.table(sel.cache, "concept_patches") \
        if sel.cache.has("concept_patches") else pd.DataFrame(columns=["concept", "rank", "file"])
    concepts = sorted(int(k) for k in imp["concept"].unique())
    pictures = featvis_ui.featvis_pictures(sel, [("concept", k) for k in concepts])
    cards = []
    for k in concepts:
        city = imp[(imp["concept"] == k) & (imp["head"] == "city")]
        pk = patches[patches["concept"] == k].sort_values("rank").head(n_patches)
        cards.append(atlas.ConceptCard(
            concept=k, name=names.get(k, f"concept {k}"), featvis=pictures[("concept", k)],
            patches=[p for p in (cache_picture(sel, f) for f in pk["file"]) if p is not None],
            importance=dict(zip(city["target"], city["importance"].astype(float)))))
    return cards


# -------------------------------------------------------------------- standard set
def standard_figures(sel: state.Selection) -> "OrderedDict[str, Callable[[], object]]":
    """The run's figures for a talk, name → builder (built only when picked)."""
    from dashboard.figures import charts

    run, labels, c = sel.run, sel.labels, sel.cache
    out: OrderedDict[str, Callable[[], object]] = OrderedDict()
    # the panel is on every page: read one column now, the others when a figure is drawn
    # (the whole table of a million images takes seconds, its path and id strings most)
    split = "test" if (sel.samples("split")["split"] == "test").any() else "all"

    def sub():
        return mistakes.in_split(sel.samples("split", "class", "pred_class", "correct"), split)

    def confusion():
        cm = mistakes.confusion_counts(sub(), labels.classes)
        return charts.confusion_matrix(cm, labels.classes, title=f"Confusion matrix, city ({split})")

    out[f"Confusion matrix (city, {split})"] = confusion
    out[f"Error rate per city ({split})"] = lambda: atlas.error_rate_bars(
        mistakes.error_rates(sub(), labels.classes), title=f"Error rate per city ({split})")
    if not run.history().empty:
        out["Training curves"] = lambda: charts.training_curves(run.history(), run.info.get("best_epoch"),
                                                                title="Training")
    if c.has("umap"):
        out["UMAP by city"] = lambda: atlas.umap_scatter(
            atlas.umap_points(state.table(c, "umap"), sel.samples(*atlas.UMAP_POINT_COLUMNS)), "class", labels.classes,
            title="The images by their features (UMAP)", marker_size=5)
    if c.has("mean_cams"):
        out["Mean Grad-CAM per city"] = lambda: mean_cam_picture(sel)
    if c.has("concept_importance"):
        imp = state.table(c, "concept_importance")
        out["Concept x city importance"] = lambda: atlas.concept_class_heatmap(
            imp, "city", labels.classes, title="Which concepts make each city", names=concept_labels(c))
        out["Concept cards"] = lambda: atlas.concept_cards_figure(concept_cards(sel))
    if not concept_views.missing(c):
        for city in labels.classes:
            out[f"Portrait: {city}"] = functools.partial(portrait_figure, sel, city)
    out.update(comparison_figures(sel))
    out.update(experiment_figures(sel))
    return out


COMPARE_PAIR = "_compare_pair"  # (A, B, split) last shown on the Compare page


def compare_partner(sel: state.Selection) -> tuple[str, str] | None:
    """(run, split) to compare the selected run with in the talk pack: its partner on the
    Compare page in this session, else the first other analysed run of the same dataset
    on the test split."""
    pair = st.session_state.get(COMPARE_PAIR)
    if pair and sel.name in pair[:2]:
        return (pair[1] if pair[0] == sel.name else pair[0]), pair[2]
    fingerprint = sel.cache.manifest.get("dataset_fingerprint")
    for name in state.run_names():
        if name == sel.name:
            continue
        other = state.get_cache(state.get_run(name), name)  # its manifest only: no dataset checks here
        if other.has("samples") and other.manifest.get("dataset_fingerprint") == fingerprint:
            return name, "test"
    return None


def comparison_figures(sel: state.Selection) -> "OrderedDict[str, Callable[[], object]]":
    """The Compare page's figures for the selected run and :func:`compare_partner`."""
    out: OrderedDict[str, Callable[[], object]] = OrderedDict()
    partner = compare_partner(sel)
    if partner is None:
        return out
    # imported only with a partner: scipy.stats alone costs 0.5 s of a page's first visit
    from analysis.precompute.compare_views import compare, layer_cka
    from analysis.store import pair_file
    from dashboard.figures import compare as figures

    (b, split), a = partner, sel.name
    comparison = functools.cache(lambda: compare(sel.cache, state.selection_of(b).cache, split))
    out[f"Compare {a} vs {b}: accuracy per city"] = lambda: figures.accuracy_chart(
        comparison().accuracy, a, b, title="Accuracy per city, 95 % bootstrap intervals (* significant, McNemar)")
    out[f"Compare {a} vs {b}: agreement"] = lambda: figures.agreement_chart(
        comparison().agreement, title="Agreement on the same images")
    out[f"Compare {a} vs {b}: where they look"] = lambda: figures.map_correlation_chart(
        comparison().map_correlation, title="Where they look, per city (Spearman ρ of the two Grad-CAMs)")
    for x, y in ((a, b), (b, a)):
        if pair_file(state.cache_root(), x, y, f"layer_cka_{split}").is_file():
            out[f"Compare {x} vs {y}: per-layer CKA"] = lambda x=x, y=y: figures.layer_cka_chart(
                layer_cka(x, y, split, state.models_root(), state.cache_root()), x, y,
                title="Linear CKA, stage by stage")
    return out


def experiment_figures(sel: state.Selection) -> "OrderedDict[str, Callable[[], object]]":
    """The selected run's experiment (``streetlens experiment``): its accuracy chart and,
    with several training fractions, its data-efficiency curves."""
    from analysis.experiment import results
    from dashboard.figures import experiment as figures

    out: OrderedDict[str, Callable[[], object]] = OrderedDict()
    name = sel.run.info.get("config", {}).get("extra", {}).get("experiment")
    if not name:
        return out
    loaded = functools.cache(lambda: results.load(state.models_root(), name))
    out[f"Experiment {name}: accuracy across seeds"] = lambda: figures.grid_chart(
        loaded()[2], loaded()[1], title="Test city accuracy: mean and 95 % interval across seeds")
    from analysis.experiment.grid import Experiment, ExperimentError

    try:
        several = len(Experiment.load(state.models_root(), name).fractions) > 1
    except ExperimentError:  # the grid's file is gone: its runs still make the accuracy chart
        several = False
    if several:
        out[f"Experiment {name}: data efficiency"] = lambda: figures.efficiency_chart(
            loaded()[2], loaded()[1], title="Data efficiency: accuracy against training images")
    return out


# ------------------------------------------------------------------------ portraits
def portrait_pictures(sel: state.Selection, city: str, concepts,
                      evidence: dict | None = None) -> dict[int, portrait_figures.CardPictures]:
    """Each card's pictures: feature visualisation (missing ones rendered now, in one
    batch), its 8 top patches (the city's own first), and its mean map over the city's mean
    photo. ``evidence``: the cards' ``portrait_views.evidence`` when the caller has it."""
    concepts = [int(k) for k in concepts]
    evidence = evidence or {}
    fv = featvis_ui.featvis_pictures(sel, [("concept", k) for k in concepts])
    classes = list(sel.labels.classes)
    mean_photo = np.asarray(state.array(sel.cache, "mean_photos")[classes.index(city)]) \
        if sel.cache.has("mean_photos") else None
    out = {}
    for k in concepts:
        ev = evidence.get(k) or portrait_views.evidence(sel.cache, k, city, classes)
        heat = portrait_figures.mean_map_picture(mean_photo, ev.mean_map) if ev.mean_map is not None else None
        out[k] = portrait_figures.CardPictures(
            featvis=fv.get(("concept", k)),
            patches=[p for p in (cache_picture(sel, f) for f in ev.patches["file"]) if p is not None],
            mean_map=heat)
    return out


def portrait_figure(sel: state.Selection, city: str, given: dict | None = None):
    """``city``'s portrait as one slide (the same figure the Portrait page exports)."""
    given = given_names(sel.cache) if given is None else given
    p = concept_views.portrait(sel.cache, city, given)
    return portrait_figures.portrait_figure(p, portrait_pictures(sel, city, [c.concept for c in p.cards]),
                                            sel.name)


def summary_for(sel: state.Selection) -> tuple[talk_pack.RunSummary, dict[int, Image.Image]]:
    imp = state.table(sel.cache, "concept_importance") if sel.cache.has("concept_importance") else None
    samples = sel.samples("correct", "correct_group")
    notes = [f"analysis of {len(samples)} images; {int((~samples['correct']).sum())} city errors, "
             f"{int((~samples['correct_group']).sum())} group errors over all splits"]
    portraits = None
    if not concept_views.missing(sel.cache):
        given = given_names(sel.cache)
        portraits = {city: [(c.concept, c.effect) for c in concept_views.portrait(sel.cache, city, given).cards]
                     for city in sel.labels.classes}
    summary = talk_pack.run_summary(sel.run.info, imp, notes=notes, portraits=portraits,
                                    concept_names=concept_labels(sel.cache) if sel.cache.has("concept_basis") else None)
    concepts = sorted(int(k) for k in imp["concept"].unique()) if imp is not None else []
    pictures = featvis_ui.featvis_pictures(sel, [("concept", k) for k in concepts])
    return summary, {k: pictures[("concept", k)] for k in concepts}


# ------------------------------------------------------------------------ talk pack
def talk_pack_builder(sel: state.Selection | None, container=None, expanded: bool = False) -> None:
    """The talk-pack panel: choose figures, build, download the zip."""
    if sel is None or not sel.ready:
        return
    container = container or st.sidebar
    box = container.expander("Talk pack", expanded=expanded, icon=":material/slideshow:")
    standard = standard_figures(sel)
    seen = {f"{name} (this session)": fig for name, fig in remembered_figures().items()
            if name not in standard}
    options = list(standard) + list(seen)
    chosen = box.multiselect("Figures", options, default=list(standard), key="talkpack-figures",
                             help="Each as PNG (1920 px wide) and PDF, plus a one-page summary "
                                  "of the run (PDF and Markdown).")
    key = f"talkpack-zip-{sel.name}"
    if box.button("Build talk pack", key="talkpack-build", disabled=not chosen):
        bar = box.progress(0.0, text="building …")
        figures = {}
        for i, name in enumerate(chosen):
            bar.progress(i / max(len(chosen), 1) * 0.4, text=f"drawing {name}")
            figures[name.replace(" (this session)", "")] = standard[name]() if name in standard else _figure(seen[name])
        summary, icons = summary_for(sel)

        def step(i, n, name):
            bar.progress(0.4 + 0.6 * (i - 1) / max(n, 1), text=f"exporting {name}")

        data, problems = talk_pack.talk_pack(figures, summary, featvis=icons, progress=step)
        bar.empty()
        st.session_state[key] = (data, problems, len(figures))
    if key in st.session_state:
        data, problems, n = st.session_state[key]
        for p in problems:
            box.warning(p)
        box.download_button(f"{sel.name}-talk.zip ({n} figures, {len(data) / 1e6:.1f} MB)",
                            icon=":material/download:",
                            data=data, file_name=f"{sel.name}-talk.zip", mime="application/zip",
                            key="talkpack-download", on_click="ignore")
