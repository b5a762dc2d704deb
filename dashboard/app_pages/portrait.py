"""Portrait: what makes a street look like this city, in a few named, verified concepts.

Leads with two or three sentences built from measured numbers, then the 3–6 concepts
whose removal lowers the city's probability most (stable ones only), each as a card:
its name (automatic until someone names it), feature visualisation, 8 top patches (the
city's own first), where it sits in the frame, how often it shows here vs elsewhere, its
effect with a 95 % interval, its stability and the cities it pulls towards. Shortcut
flags about the city come first. Everything is read from the concept stages; naming a
concept writes the run's names file (kept across re-analyses, safe with two tabs).

URL: ``portrait?run=RUN&city=CITY[&concept=K]`` (``concept`` opens that concept's card
first, e.g. from a link on the Errors page).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.precompute import concept_views, missing_hint, portrait_views
from analysis.store import CacheError
from analysis.store.names import NamesError
from dashboard.concept_names import given_names
from dashboard import export_ui, links, state
from dashboard.figures import images
from dashboard.figures import portrait as figures
from dashboard.safe_text import plain

CHART_CONFIG = {"displayModeBar": False}
LOW_COMPLETENESS = 0.6  # below this, say the concepts explain the city poorly
CUE_IOU = 0.1  # below this a concept does not "overlap" a cue
NEEDED_STAGES = "concept_effects,concept_stability,concept_profiles,concept_names"


# ------------------------------------------------------------------------- naming
def _save(sel: state.Selection, k: int, name: str | None) -> None:
    try:
        kept = concept_views.name_concept(sel.cache, k, name, by="dashboard")
    except (NamesError, ValueError, CacheError) as exc:
        st.session_state[f"_name_error_{k}"] = str(exc)
        return
    st.session_state.pop(f"_name_error_{k}", None)
    st.session_state["_name_saved"] = (k, kept)


def naming_form(sel: state.Selection, card, ev: portrait_views.CardEvidence) -> None:
    """Pick a candidate or type a name; or go back to the automatic one."""
    with st.container(key=f"namebox_{card.concept}"), st.popover("Name this concept", icon=":material/edit:"):
        cands = ev.candidates
        options = ["(type a name below)"] + [f"{r.name} — {r.source}, score {r.score:.2f}" for r in cands.itertuples()]
        choice = st.selectbox("Candidates (found automatically, best first)", range(len(options)),
                              format_func=lambda i: options[i], key=f"cand_{card.concept}")
        typed = st.text_input("Your name for it", key=f"typed_{card.concept}", max_chars=None,
                              placeholder="e.g. utility poles")
        c1, c2 = st.columns(2)
        if c1.button("Save", key=f"save_{card.concept}", type="primary"):
            name = typed if typed or choice == 0 else str(cands["name"].iloc[choice - 1])
            _save(sel, card.concept, name)
            st.rerun()
        if c2.button("Back to automatic", key=f"clear_{card.concept}", disabled=card.name.automatic):
            _save(sel, card.concept, None)
            st.rerun()
        if len(cands):
            st.caption("Scores: cue = IoU of the concept's maps with the demo's cue masks; scene = "
                       "Places365 probability on its top patches; colour/position = share of its mass.")


# -------------------------------------------------------------------------- cards
def card(sel: state.Selection, city: str, c, rank: int | None, ev: portrait_views.CardEvidence,
         pics: figures.CardPictures, focused: bool = False) -> None:
    with st.container(border=True):
        marks = []
        if c.name.automatic:
            marks.append(":gray-badge[automatic name]")
        marks.append(":orange-badge[⚠ unstable]" if not c.stable else ":green-badge[stable]")
        if c.stable and not c.clear:
            marks.append(":gray-badge[weak effect]")
        if focused:
            marks.append(":blue-badge[opened from a link]")
        prefix = f"{rank}. " if rank else ""
        head, edit = st.columns([5, 1.2])
        head.markdown(f"#### {prefix}{plain(c.name.label)}\n{' '.join(marks)} concept {c.concept}")
        with edit:
            naming_form(sel, c, ev)
        err = st.session_state.get(f"_name_error_{c.concept}")
        if err:
            st.error(err)
        col1, col2, col3, col4 = st.columns([1, 2, 1, 2.2])
        with col1:
            if pics.featvis is not None:
                st.image(pics.featvis, width="stretch", caption="feature visualisation")
        with col2:
            if pics.patches:
                grid = images.image_grid(pics.patches, ncols=4, cell=96, pad=3,
                                         captions=list(ev.patches["class"].astype(str)))
                st.image(grid, width="stretch",
                         caption=f"its 8 strongest patches ({ev.own_patches} from {city})")
        with col3:
            if pics.mean_map is not None:
                st.image(pics.mean_map, width="stretch", caption=f"where: {c.where or 'mean map'}")
        with col4:
            st.markdown(
                f"**Effect** removing it lowers P({plain(city)}) by **{c.effect:.3f}** "
                f"(95 % interval {c.low:.3f} to {c.high:.3f}, {c.images} test photos)  \n"
                + (f"**Prevalence** in **{c.share:.0%}** of {plain(city)} photos vs {c.others:.0%} of the others  \n"
                   if np.isfinite(c.share) else "")
                + f"**Stability** came back in {c.came_back} of {c.refits} refits of the concepts  \n"
                + ("**Pulls towards** " + ", ".join(
                    f"[{plain(t)}]({links.portrait_url(sel.name, t)}) {v:+.2f}" for t, v in c.pulls)
                   if c.pulls else "Pulls towards no other city."))
            if ev.cue is not None and round(ev.cue[1], 2) >= CUE_IOU:  # as printed
                st.caption(f"On {plain(city)} photos it overlaps the planted cue “{plain(ev.cue[0])}” best "
                           f"(IoU {ev.cue[1]:.2f}).")
            elif ev.cue is not None:
                st.caption(f"On {plain(city)} photos it overlaps none of the planted cues (best: "
                           f"“{plain(ev.cue[0])}”, IoU {ev.cue[1]:.2f}).")


def flags_section(sel: state.Selection, city: str) -> None:
    flags = portrait_views.city_flags(sel.cache, city)
    for f in flags.itertuples():
        st.warning(f"**Possible shortcut** — {plain(f.text)} Look at: {plain(f.look)} "
                   f"([open]({f.link}))", icon=":material/warning:")


def main() -> None:
    sel = state.require_analysis(state.select_run())
    export_ui.talk_pack_builder(sel)
    classes = list(sel.labels.classes)
    city = state.url_selectbox("City", classes, "city", container=st.sidebar)
    st.title(f"What makes a street look like {city}?")
    gone = concept_views.missing(sel.cache)
    if gone:
        st.info(f"This run has no concept effects yet: run `streetlens analyze {sel.name} "
                f"--stages {NEEDED_STAGES}` ({missing_hint(sel.name, gone[0])} computes the first).")
        st.stop()
    saved = st.session_state.pop("_name_saved", None)
    if saved:
        k, kept = saved
        st.toast(f"concept {k} is now called “{kept}”" if kept else f"concept {k} went back to its automatic name")
    given = given_names(sel.cache, st.error)
    portrait = concept_views.portrait(sel.cache, city, given)
    st.caption(f"Run {sel.name}. Concepts: NMF directions of the target layer's activations; effect: the "
               f"drop of the model's probability of {city} when a concept is removed from a test photo's "
               "activations (only the layers after it are run again).")
    for s in portrait.sentences:
        st.markdown(plain(s))
    if portrait.completeness is not None and portrait.completeness < LOW_COMPLETENESS:
        st.info(f"Rebuilt from the concepts alone, the activations keep only {portrait.completeness:.0%} of "
                f"the model's accuracy on {plain(city)}: these concepts miss much of what the model uses for "
                "this city.", icon=":material/info:")
    flags_section(sel, city)

    focus = state.url_get("concept", None, int)
    shown = {c.concept for c in portrait.cards}
    opened = None
    if focus is not None and focus not in shown:
        opened = next((c for c in portrait_views.all_cards(sel.cache, city, given) if c.concept == focus), None)
    cards = ([opened] if opened else []) + list(portrait.cards)
    row_class = sel.samples("row", "class")
    evidence = {c.concept: portrait_views.evidence(sel.cache, c.concept, city, sel.labels.classes, row_class)
                for c in cards}
    pictures = export_ui.portrait_pictures(sel, city, list(evidence), evidence)
    if opened:
        card(sel, city, opened, None, evidence[opened.concept], pictures[opened.concept], focused=True)
    for i, c in enumerate(portrait.cards, 1):
        card(sel, city, c, i, evidence[c.concept], pictures[c.concept], focused=c.concept == focus)
    if not portrait.cards:
        st.info("No stable concept raises this city's probability: see the chart below.")

    with st.expander("All concepts' effect on this city", expanded=False):
        fig = figures.effect_chart(portrait_views.city_effects(sel.cache, city, given), city,
                                   lead=[c.concept for c in portrait.cards],
                                   title=f"Removing each concept: drop of P({city})")
        st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="portrait_effects")
        export_ui.download_buttons(fig, f"portrait-{city}-effects")
    export_ui.download_buttons(lambda: export_ui.portrait_figure(sel, city, given),
                               f"portrait-{city}", key=f"dl-portrait-{city}", kind="matplotlib")
    st.caption("Other cities: " + " · ".join(links.city_link(sel.name, c) for c in classes if c != city))


if __name__ == "__main__":
    main()
