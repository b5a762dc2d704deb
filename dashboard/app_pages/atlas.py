"""Atlas: what makes each city look like itself, across the whole dataset.

* **Map** — an activation atlas of the UMAP of the images' features (``dashboard/atlas_map.py``):
  cells at 8 × 8 … 64 × 64 drawn by their most typical image, coloured by true city,
  prediction, right/wrong, split or group (``?color=…``), down to single images
  (``?zoom=images``); click a cell or a point, or drag a box, to see those images
  (thumbnails and a table linking to the Sample page) and a cell's feature visualisation.
* **Where the model looks** — the mean Grad-CAM of each city over its correctly
  classified images (each map min-max normalised first), over the city's average photo.
* **Concepts** — the NMF concepts of the target layer: a concept × city heatmap of their
  importance (click a cell, or pick one, ``?concept=…``), the chosen concept in detail
  (feature visualisation, top patches and where they come from, importance per city),
  and one card per concept.
"""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from analysis.precompute import atlas_views, missing_hint
from dashboard import atlas_map, export_ui, featvis_ui, links, state
from dashboard.concept_names import concept_labels
from dashboard.figures import atlas, charts, images
from dashboard.safe_text import plain

CHART_CONFIG = {"displayModeBar": False}


def sample_url(run: str, image_id: str) -> str:
    return "sample?" + urlencode({"run": run, "id": image_id})


def cache_mtime(sel: state.Selection, *names: str) -> tuple[float, ...]:
    return tuple(sel.cache.mtime(n) for n in names)


# ------------------------------------------------------------------------ mean maps
def mean_cam_section(sel: state.Selection) -> None:
    st.header("Where the model looks, per city")
    if not sel.cache.has("mean_cams"):
        st.info(f"Not computed yet: run {missing_hint(sel.name, 'mean_cams')}.")
        return
    pic = export_ui.mean_cam_picture(sel)
    st.image(pic, width="stretch")
    st.caption("Mean Grad-CAM of each city for its correctly classified images (each map "
               "normalised to [0, 1] first, so every image counts the same), laid over the "
               "city's average photo. Red: where the evidence for the city usually is.")
    export_ui.download_buttons(pic, "mean-gradcam-per-city")


# ------------------------------------------------------------------------- concepts
def _bump_heatmap() -> None:
    st.session_state["_atlas_hm_gen"] = st.session_state.get("_atlas_hm_gen", 0) + 1


def _apply_heatmap_click(key: str, concepts: list[int]) -> None:
    points = state.chart_points(st.session_state.get(key))
    if not points:
        return
    cd = points[0].get("customdata")
    k = None
    if isinstance(cd, (list, tuple)) and cd:
        try:
            k = int(float(cd[0]))
        except (TypeError, ValueError):
            k = None
    if k is None:
        y = str(points[0].get("y", ""))
        k = int(y.split()[-1]) if y.split() and y.split()[-1].isdigit() else None
    if k not in concepts or st.session_state.get("_atlas_applied") == (key, k):
        return
    st.session_state["_atlas_applied"] = (key, k)
    state.url_set(concept=k)
    st.session_state["w_concept"] = k  # the picker follows the click


@st.cache_data(show_spinner=False, max_entries=256)
def concept_overlay(cache_root: str, row: int, path: str, concept: int, _sel: state.Selection,
                    cell: int = 160) -> np.ndarray:
    """Where concept ``concept`` is in image ``row`` (its concept map, tinted)."""
    maps = state.array(_sel.cache, "concept_maps")
    m = np.asarray(maps[row, concept], dtype=np.float32)
    try:
        photo = images.to_rgb_array(images.fit_square(path, cell))
    except OSError:
        photo = images.to_rgb_array(images.placeholder_icon(cell, "missing"))
    return images.overlay(photo, np.clip(m, 0, None), opacity=0.7, mode="mask")


def top_cities(imp: pd.DataFrame, k: int, n: int = 3) -> list[str]:
    """The cities concept ``k`` pushes up most (city head, positive importance)."""
    rows = imp[(imp["head"] == "city") & (imp["concept"] == k) & (imp["importance"] > 0)]
    return rows.sort_values("importance", ascending=False)["target"].astype(str).head(n).tolist()


def concept_detail(sel: state.Selection, imp: pd.DataFrame, patches: pd.DataFrame, k: int,
                   names: dict[int, str], head: str) -> None:
    st.subheader(f"{k} · {plain(names.get(k, f'concept {k}'))}")
    cities = top_cities(imp, k)
    if cities:
        st.markdown("Its measured effect, stability and name in the portraits of "
                    + " · ".join(f"[{plain(c)}]({links.portrait_url(sel.name, c, k)})" for c in cities))
    c1, c2, c3 = st.columns([1, 2.2, 1.6])
    with c1:
        st.image(featvis_ui.featvis_picture(sel, "concept", k), width="stretch",
                 caption="feature visualisation: an image that excites this concept direction")
    pk = patches[patches["concept"] == k].sort_values("rank")
    with c2:
        pics = [export_ui.cache_picture(sel, f) for f in pk["file"]]
        ok = [(p, r) for p, r in zip(pics, pk.to_dict("records")) if p is not None]
        if ok:
            cls = state.sample_rows(sel, pk["row"].tolist(), ("class",)).set_index("row")["class"]
            grid = images.image_grid([p for p, _ in ok], ncols=6, cell=96, pad=3,
                                     captions=[str(cls.get(r["row"], "")) for _, r in ok])
            st.image(grid, width="stretch",
                     caption="its strongest patches in the dataset (city of each source image)")
        else:
            st.info("No patches stored for this concept.")
    with c3:
        fig = atlas.concept_bars(imp, k, head, title=f"Importance per {'city' if head == 'city' else 'group'}")
        st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="atlas_concept_bars")
        export_ui.download_buttons(fig, f"concept-{k}-importance-{head}")
    if len(pk) and sel.cache.has("concept_maps"):
        src = pk.drop_duplicates("row").head(6)
        paths = state.records(sel, src["row"], ("path",)).set_index("row")["path"]
        st.markdown("**Where it appears** in the images of its top patches (its concept map; "
                    "red = strongest):")
        cols = st.columns(len(src))
        for col, r in zip(cols, src.to_dict("records")):
            with col:
                st.image(concept_overlay(str(sel.cache.root), int(r["row"]),
                                         str(sel.image_path(paths[r["row"]])), k, sel), width="stretch")
                st.markdown(f"[`{r['id'][:8]}` ↗]({sample_url(sel.name, r['id'])})")
    export_ui.download_buttons(
        lambda: atlas.concept_cards_figure([c for c in export_ui.concept_cards(sel) if c.concept == k]),
        f"concept-{k}-card", key=f"dl-card-{k}", kind="matplotlib")


@st.cache_data(max_entries=256, show_spinner=False)
def card_picture(root: str, concept: int, patch_files: tuple[str, ...], mtimes: tuple,
                 _sel: state.Selection, _icon) -> np.ndarray:
    """A concept card's picture: its feature visualisation (``_icon``, left) beside a 3 × 2
    grid of its top patches — one image per card instead of two, made once per cache
    version and picture (the page shows twelve)."""
    from PIL import Image

    icon = _icon
    pics = [p for p in (export_ui.cache_picture(_sel, f) for f in patch_files) if p is not None]
    grid = images.image_grid(pics, ncols=3, cell=72, pad=2) if pics else None
    height = grid.height if grid is not None else 152
    out = Image.new("RGB", (height + 4 + (grid.width if grid is not None else 0), height), "white")
    out.paste(icon.resize((height, height), Image.BILINEAR), (0, 0))
    if grid is not None:
        out.paste(grid, (height + 4, 0))
    return np.asarray(out)


def concept_cards(sel: state.Selection, imp: pd.DataFrame, patches: pd.DataFrame,
                  names: dict[int, str], head: str, per_row: int = 3) -> None:
    concepts = sorted(int(k) for k in imp["concept"].unique())
    icons = featvis_ui.featvis_pictures(sel, [("concept", k) for k in concepts])
    cols = st.columns(per_row)
    for i, k in enumerate(concepts):
        with cols[i % per_row].container(border=True):
            st.markdown(f"**{k} · {plain(names.get(k, f'concept {k}'))}**")
            pk = patches[patches["concept"] == k].sort_values("rank").head(6)
            fv_file = sel.cache.featvis_path("concept", k)
            mtimes = (*cache_mtime(sel, "concept_patches"), fv_file.stat().st_mtime if fv_file.is_file() else 0.0)
            st.image(card_picture(str(sel.cache.root), k, tuple(pk["file"]), mtimes, sel, icons[("concept", k)]),
                     width="stretch")
            sub = imp[(imp["head"] == head) & (imp["concept"] == k)].sort_values("importance", ascending=False)
            st.markdown(charts.html_bars(sub["importance"].to_numpy(), sub["target"].tolist()),
                        unsafe_allow_html=True)


def concepts_section(sel: state.Selection) -> None:
    st.header("Concepts")
    if not sel.cache.has("concept_importance"):
        st.info(f"No concepts yet: run {missing_hint(sel.name, 'concept_importance')}.")
        return
    imp = state.table(sel.cache, "concept_importance")
    patches = state.table(sel.cache, "concept_patches") if sel.cache.has("concept_patches") \
        else pd.DataFrame(columns=["concept", "rank", "row", "id", "file"])
    heads = [h for h in ("city", "group") if (imp["head"] == h).any()]
    c1, c2 = st.columns([1, 3])
    head = state.url_selectbox("Head", heads, "head", default="city", container=c1,
                               format_func=lambda h: {"city": "city", "group": "group (East/West)"}[h])
    c2.caption("Concepts are directions in the target layer's activations found by NMF over the "
               "training images: each is a part that recurs across the dataset. Importance "
               "(gradient × concept activation, averaged over a class's images): how much the "
               "concept pushes that class's score up (red) or down (blue).")
    names = concept_labels(sel.cache)
    names = {int(k): names.get(int(k), f"concept {int(k)}") for k in imp["concept"].unique()}
    concepts = sorted(names)
    featvis_ui.featvis_pictures(sel, [("concept", c) for c in concepts])  # any missing: one render for all
    targets = list(sel.labels.classes) if head == "city" else list(sel.labels.groups)
    gen = st.session_state.get("_atlas_hm_gen", 0)
    hm_key = f"atlas_heatmap_{head}_{gen}"
    _apply_heatmap_click(hm_key, concepts)
    default = concepts[0] if concepts else None
    k = state.url_get("concept", default, int)
    k = k if k in concepts else default
    fig = atlas.concept_class_heatmap(imp, head, targets, selected=k,
                                      title=f"Concept × {head} importance (click a cell to open its concept)",
                                      names=names)
    st.plotly_chart(fig, width="stretch", theme=None, on_select="rerun", selection_mode="points",
                    key=hm_key, config=CHART_CONFIG)
    export_ui.download_buttons(fig, f"concept-x-{head}-importance")

    if st.session_state.get("w_concept") != k:
        st.session_state["w_concept"] = k
    st.selectbox("Concept", concepts, key="w_concept", format_func=lambda c: names[c],
                 on_change=_on_concept_pick)
    concept_detail(sel, imp, patches, k, names, head)
    st.subheader("All concepts")
    concept_cards(sel, imp, patches, names, head)
    export_ui.download_buttons(lambda: atlas.concept_cards_figure(export_ui.concept_cards(sel)),
                               "concept-cards", key="dl-cards-all", kind="matplotlib")


def _on_concept_pick() -> None:
    state.url_set(concept=st.session_state.get("w_concept"))
    _bump_heatmap()


def main() -> None:
    st.title("Atlas")
    st.caption("What makes each city look like itself, across the whole dataset.")
    sel = state.require_analysis(state.select_run())
    export_ui.talk_pack_builder(sel)
    atlas_map.map_section(sel)
    st.divider()
    mean_cam_section(sel)
    st.divider()
    concepts_section(sel)


if __name__ == "__main__":
    main()
