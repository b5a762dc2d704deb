"""Features: the feature visualisations of what the network detects, by city and by concept.

* **Channels per city** — for every city (and group), the feature-map channels that push
  its score up most over its correctly classified images (the ``channels`` stage,
  gradient × activation), each with its lucent feature visualisation (precomputed by the
  ``featvis`` stage, else rendered on first view: ``dashboard.featvis_ui``).
* **A closer look** — one city's (or group's) top channels as attribution bars with icons,
  and for a chosen channel (``?channel=…``) the dataset images that excite it most (the
  ``channel_images`` stage), with where it fires.
* **Concepts** — the feature visualisation of every concept direction, with the name it
  goes by (the user's, else the automatic one), linking to its card in the Atlas.
"""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from analysis.precompute import missing_hint
from dashboard import export_ui, featvis_ui, links, state
from dashboard.concept_names import concept_labels
from dashboard.figures import charts, images
from dashboard.safe_text import plain

CHART_CONFIG = {"displayModeBar": False}
ICON = 112


def page_url(page: str, **params) -> str:
    return f"{page}?" + urlencode(params)


@st.cache_data(show_spinner=False, max_entries=256)
def channel_overlay(cache_root: str, row: int, channel: int, path: str, _sel: state.Selection,
                    cell: int = 160) -> np.ndarray:
    """Where ``channel`` fires in image ``row`` (its activation map over the photo)."""
    acts = state.array(_sel.cache, "activations")
    m = np.clip(np.asarray(acts[row, channel], dtype=np.float32), 0, None)
    try:
        photo = images.to_rgb_array(images.fit_square(path, cell))
    except OSError:
        photo = images.to_rgb_array(images.placeholder_icon(cell, "missing"))
    return images.overlay(photo, m, opacity=0.5, mode="mask")


def icon(pictures: dict, kind: str, index: int, size: int = ICON):
    """A feature visualisation of ``pictures`` (``featvis_ui.featvis_pictures``) at ``size``."""
    return images.fit_square(pictures[(kind, int(index))], size)


def gallery_channels(top: pd.DataFrame, fv: dict, head: str, target: str) -> list[dict]:
    """A city's (group's) card: up to five of its top channels precomputed by the featvis
    stage, else its top three (rendered on demand)."""
    rows = top[(top["head"] == head) & (top["target"] == target)].sort_values("rank")
    with_icon = [r for r in rows.to_dict("records") if ("channel", int(r["channel"])) in fv]
    return with_icon[:5] if with_icon else rows.head(3).to_dict("records")


def class_gallery(sel: state.Selection, top: pd.DataFrame, fv: dict, head: str = "city",
                  per_row: int = 2) -> None:
    """One card per city / group: its top channels with their feature visualisations."""
    targets = list(sel.labels.classes) if head == "city" else list(sel.labels.groups)
    shown_by = {t: gallery_channels(top, fv, head, t) for t in targets}
    pictures = featvis_ui.featvis_pictures(sel, [("channel", int(r["channel"]))
                                                 for shown in shown_by.values() for r in shown])
    cols = st.columns(per_row)
    for i, target in enumerate(targets):
        rows = top[(top["head"] == head) & (top["target"] == target)].sort_values("rank")
        with cols[i % per_row].container(border=True):
            st.markdown(f"**{target}**")
            if rows.empty:
                st.caption("no channel analysis")
                continue
            shown = shown_by[target]
            st.image([icon(pictures, "channel", int(r["channel"])) for r in shown],
                     caption=[f"ch {int(r['channel'])} · {r['attribution']:+.3f}" for r in shown],
                     width=ICON)
            rest = [r for r in rows.to_dict("records") if r not in shown]
            if rest:
                st.caption("then: " + ", ".join(f"ch {int(r['channel'])} ({r['attribution']:+.3f})"
                                                for r in rest[:7]))


def closer_look(sel: state.Selection, top: pd.DataFrame) -> None:
    st.header("A closer look")
    options = [f"city:{c}" for c in sel.labels.classes] + [f"group:{g}" for g in sel.labels.groups]
    options = [o for o in options if ((top["head"] == o.split(":")[0]) &
                                      (top["target"] == o.split(":", 1)[1])).any()]
    if not options:
        st.info("No channel analysis for this run.")
        return
    c1, c2 = st.columns([1, 1])
    target = state.url_selectbox("City or group", options, "target", container=c1,
                                 format_func=lambda o: o.split(":", 1)[1] + (" (group)" if o.startswith("group") else ""))
    head, name = target.split(":", 1)
    rows = top[(top["head"] == head) & (top["target"] == name)].sort_values("rank")
    channels = [int(c) for c in rows["channel"]]
    channel = _channel_box(channels, c2)
    pictures = featvis_ui.featvis_pictures(sel, [("channel", c) for c in channels])
    left, right = st.columns([1.2, 1])
    with left:
        fig = charts.channel_bars(rows["attribution"].to_numpy(), channels,
                                  icons=[icon(pictures, "channel", c, 64) for c in channels],
                                  title=f"Channels that make it {name}")
        st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="features_bars")
        export_ui.download_buttons(fig, f"channels-{head}-{name}")
    with right:
        st.markdown(f"**Channel {channel}**")
        st.image(icon(pictures, "channel", channel, 224), width=224,
                 caption="feature visualisation: an image optimised to excite this channel")
        st.caption(f"Attribution towards {name}: {float(rows[rows['channel'] == channel]['attribution'].iat[0]):+.3f} "
                   "(mean gradient × activation over its correctly classified images).")
    if not sel.cache.has("channel_images"):
        st.info(f"Which images excite each channel most: not computed yet — "
                f"{missing_hint(sel.name, 'channel_images')}.")
        return
    found = state.table(sel.cache, "channel_images")
    found = found[found["channel"] == channel].sort_values("rank")
    st.markdown(f"**The images that excite channel {channel} most** (where it fires, brighter = stronger):")
    cols = st.columns(len(found) or 1)
    # the few images' records from the shards that hold them (not a million rows' paths)
    by_row = state.records(sel, found["row"], ("id", "path", "class")).drop_duplicates("row").set_index("row")
    for col, r, v, mean in zip(cols, found["row"], found["peak"], found["mean"]):
        s = by_row.loc[int(r)]
        with col:
            st.image(channel_overlay(str(sel.cache.root), int(r), channel, str(sel.image_path(s["path"])), sel),
                     width="stretch")
            st.markdown(f"{s['class']} · max {v:.1f}, mean {mean:.2f} "
                        f"[↗]({page_url('sample', run=sel.name, id=s['id'])})")


def _channel_box(channels: list[int], container) -> int:
    """The channel picker (``?channel=…``); falls back to the target's top channel."""
    current = state.url_get("channel", None, int)
    index = channels.index(current) if current in channels else 0
    if "w_channel" in st.session_state and st.session_state["w_channel"] not in channels:
        del st.session_state["w_channel"]
    choice = container.selectbox("Channel", channels, index=index, key="w_channel",
                                 format_func=lambda c: f"channel {c}")
    state.url_set(channel=choice)
    return int(choice)


def concept_gallery(sel: state.Selection, per_row: int = 6) -> None:
    st.header("Concepts")
    if not sel.cache.has("concept_importance"):
        st.info(f"No concepts yet: run {missing_hint(sel.name, 'concept_importance')}.")
        return
    imp = state.table(sel.cache, "concept_importance")
    labels = concept_labels(sel.cache)
    names = {int(k): labels.get(int(k), f"concept {int(k)}") for k in imp["concept"].unique()}
    st.caption("The feature visualisation of each concept direction (an image optimised to "
               "excite it), with the name it goes by ((auto): not named by anyone yet). Open one in the "
               "Atlas for its patches and importance, or a city's portrait for its measured effect.")
    concepts = sorted(names)
    pictures = featvis_ui.featvis_pictures(sel, [("concept", k) for k in concepts])
    cols = st.columns(per_row)
    pics = []
    for i, k in enumerate(concepts):
        pic = icon(pictures, "concept", k, 160)
        pics.append(pic)
        with cols[i % per_row]:
            st.image(pic, width="stretch")
            st.markdown(f"**{k} · {plain(names[k])}** [↗]({page_url('atlas', run=sel.name, concept=k)})")
    grid = images.image_grid(pics, ncols=per_row, cell=160, pad=6, captions=[f"{k} · {names[k]}" for k in concepts])
    export_ui.download_buttons(grid, "concept-featvis")


def main() -> None:
    st.title("Features")
    st.caption("What the network detects: feature visualisations of the channels behind each "
               "city, and of the dataset's concepts.")
    sel = state.require_analysis(state.select_run())
    export_ui.talk_pack_builder(sel)
    fv = export_ui.featvis_files(sel)
    if not sel.cache.has("top_channels"):
        st.info(f"No channel analysis yet: run {missing_hint(sel.name, 'top_channels')}.")
    else:
        top = state.table(sel.cache, "top_channels")
        st.header("Channels per city")
        st.caption("For each city, the channels of the target layer that push its score up most "
                   "(gradient × activation, over its correctly classified images). Icons are "
                   "lucent feature visualisations (images optimised to excite the channel); "
                   "the other top channels are listed after.")
        class_gallery(sel, top, fv)
        st.markdown("The same cities in named, verified concepts — their portraits: "
                    + " · ".join(links.city_link(sel.name, c) for c in sel.labels.classes))
        with st.expander("Group head (" + " / ".join(sel.labels.groups) + ")"):
            class_gallery(sel, top, fv, head="group")
        st.divider()
        closer_look(sel, top)
    st.divider()
    concept_gallery(sel)


if __name__ == "__main__":
    main()
