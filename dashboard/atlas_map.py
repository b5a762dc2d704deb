"""The Atlas page's map: an activation atlas of the UMAP plane (Carter et al., Distill 2019).

Zoom levels (``?zoom=8|16|32|64|images``) go from the whole plane in 8 × 8 cells down to
single images; ``?region=x0,x1,y0,y1`` restricts the view to a part of the plane. Each cell
is drawn by the thumbnail of its most typical image (framed in the colour of its majority
city, prediction, split or group, or of its accuracy: ``?color=…``) or, with
``?tiles=colour``, by that colour alone; hover tells its images, class mix and accuracy.
Click a cell for its images (thumbnails, a table linking to the Sample page) and the
feature visualisation of its mean activation (on demand); drag a box over cells and zoom
into them. At ``images`` the points are WebGL, at most ``MAX_POINTS`` (a sample, over the
bins, beyond that).

The page reads the ``atlas_cells`` table (a few thousand rows), the thumbnails of the
visible cells and, for a region or a cell, only the slices of ``atlas_points`` it shows:
the same cost for a thousand images or a million.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from analysis.precompute import atlas_featvis, atlas_views, missing_hint
from dashboard import export_ui, featvis_ui, links, state
from dashboard.figures import activation_atlas as aa
from dashboard.figures import atlas, charts, images

MAX_POINTS = 20_000  # points in a view at most (a seeded sample beyond)
MAX_PHOTO_TILES = 1024  # thumbnails in a view at most (colour tiles beyond)
MAX_THUMBS = 24
MAX_TABLE_ROWS = 500  # rows of a selection's table sent to the browser (a box over the map can hold 20,000)
THUMB_PX = 96
TILES = {"photos": "typical photo", "colour": "colour only"}


def _parse_window(text: str | None) -> atlas_views.Window | None:
    try:
        x0, x1, y0, y1 = (float(v) for v in str(text).split(","))
    except (TypeError, ValueError):
        return None
    return (x0, x1, y0, y1) if x1 > x0 and y1 > y0 and np.isfinite([x0, x1, y0, y1]).all() else None


def _fmt_window(w: atlas_views.Window | None) -> str | None:
    return None if w is None else ",".join(f"{v:.6g}" for v in w)


def _zoom_to(cells: pd.DataFrame, window: atlas_views.Window | None) -> None:
    """A button's callback (it runs before the rerun, so it may set the zoom selector): show
    ``window`` (the whole map when None) at the coarsest level that fills it, in the URL and
    in the selector, whose own state would otherwise win over the URL."""
    level = atlas_views.zoom_level(cells, window) if window is not None else None
    zoom = str(level or "images") if window is not None else None
    state.url_set(zoom=zoom, region=_fmt_window(window) if window is not None else None)
    if zoom is None:
        st.session_state.pop("w_zoom", None)  # the selector falls back to its default
    else:
        st.session_state["w_zoom"] = zoom


def _labels(sel: state.Selection) -> tuple[list[str], list[str], dict[str, str]]:
    splits = sel.cache.stage_record("atlas").get("splits") or ["train", "val", "test"]
    return list(sel.labels.classes), list(splits), dict(sel.labels.class_to_group)


@st.cache_resource(max_entries=32, show_spinner=False)
def _thumb(path: str, px: int) -> Image.Image | None:
    try:
        return Image.open(io.BytesIO(state.thumbnail_bytes(path, px))).convert("RGB")
    except OSError:
        return None


def tile_px(shown: pd.DataFrame, view) -> int:
    """The thumbnail size of a view's photo tiles (twice a tile's size on screen)."""
    tile = aa.tile_size(*aa.grid_span(shown, view)[2:4]) if len(shown) else THUMB_PX
    return int(min(THUMB_PX, max(32, tile * 2)))


def photo_tiles(sel, shown: pd.DataFrame, view) -> list[tuple[int, str, int]]:
    """(cell, photo path, thumbnail px) of each of a view's photo tiles; none when the view
    has too many cells for photos (coloured squares instead). What the mosaic draws and the
    warm-up makes ahead, from one place."""
    if not len(shown) or len(shown) > MAX_PHOTO_TILES:
        return []
    px = tile_px(shown, view)
    return [(int(c), str(sel.image_path(p)), px) for c, p in zip(shown["cell"], shown["typical_path"])]


def warm_thumbnails(sel, wait=lambda: None) -> int:
    """Make the photo tiles of every zoom level's whole-map view (what a zoom change draws
    first; decoding them was most of its server time) — for the warm-up, calling ``wait``
    before each; returns how many."""
    if not atlas_views.has_atlas(sel.cache):
        return 0
    cells = state.table(sel.cache, "atlas_cells")
    view, made = atlas_views.whole(cells), 0
    for level in atlas_views.levels(cells):
        for _, path, px in photo_tiles(sel, atlas_views.visible(cells, level, None), view):
            wait()
            _thumb(path, px)
            made += 1
    return made


@st.cache_resource(max_entries=32, show_spinner="Drawing the atlas …")
def _mosaic(root: str, mtime: float, level: int, window, color_by: str, photos: bool, _sel, _cells):
    """(visible cells, colours, legend, picture) of a view; built once per view and cache version."""
    classes, splits, groups = _labels(_sel)
    shown = atlas_views.visible(_cells, level, window)
    view = window or atlas_views.whole(_cells)
    keys, shares = aa.cell_keys(shown, color_by, classes, splits, groups)
    order, palette = atlas.color_scheme(color_by, keys, classes, sorted(set(groups.values())))
    colors = [palette.get(k, "#888888") for k in keys]
    tiles = photo_tiles(_sel, shown, view) if photos else []
    thumbs = {c: _thumb(path, px) for c, path, px in tiles} if tiles else None
    picture = aa.mosaic(shown, view, colors, shares, thumbs) if len(shown) else None
    legend = {k: palette[k] for k in order if k in set(keys)}
    return shown, colors, legend, picture


def _selected(event, column: int = 0) -> list[int]:
    """customdata[column] of the picked points (cells or rows), in order, once each."""
    out = []
    for p in state.chart_points(event):
        cd = p.get("customdata")
        if isinstance(cd, dict):  # a typed array comes back as {"0": …, "1": …}
            cd = [cd.get(str(i)) for i in range(len(cd))]
        if isinstance(cd, (list, tuple)) and len(cd) > column:
            try:
                v = int(float(cd[column]))
            except (TypeError, ValueError):
                continue
            if v not in out:
                out.append(v)
    return out


@st.fragment
def map_section(sel: state.Selection) -> None:
    """The activation atlas with its selectors and what is picked on it. A fragment: zooming,
    recolouring or picking cells reruns this section only, not the page's concept cards and
    mean Grad-CAMs below (at a million images the whole page took 1.7–2.9 s to redraw in
    the browser for a 0.5 s run of its script)."""
    st.header("Map of the images")
    if not sel.cache.has("umap"):
        st.info(f"No map yet: run {missing_hint(sel.name, 'umap')}.")
        return
    if not atlas_views.has_atlas(sel.cache):
        st.info(f"The atlas of this run is not computed yet: run {missing_hint(sel.name, 'atlas_cells')} "
                "(seconds, even for a million images).")
        return
    cells = state.table(sel.cache, "atlas_cells")
    levels = atlas_views.levels(cells)
    zooms = [str(n) for n in levels] + ["images"]
    c1, c2, c3, c4 = st.columns([1.1, 1.1, 1, 2.2])
    color = state.url_selectbox("Colour by", list(atlas.COLOR_BY), "color", default="class", container=c1,
                                format_func=lambda k: atlas.COLOR_BY[k])
    default_zoom = "16" if "16" in zooms else zooms[0]
    zoom = state.url_selectbox("Zoom", zooms, "zoom", default=default_zoom, container=c2,
                               format_func=lambda z: "single images" if z == "images" else f"{z} × {z} cells")
    tiles = state.url_selectbox("Cells", list(TILES), "tiles", default="photos", container=c3,
                                format_func=lambda t: TILES[t])
    window = _parse_window(state.url_get("region"))
    c4.caption("Images the model finds alike lie close (the UMAP of its pooled features). Each cell "
               "shows its most typical image — the one closest to the cell's mean activation — framed "
               "in its majority colour. Click a cell for its images and what it means to the network; "
               "pick the box tool in the chart's toolbar and drag over cells, then zoom into them.")
    mtime = sel.cache.mtime("atlas_cells")
    if zoom == "images":
        _points_view(sel, cells, window, color, mtime)
    else:
        _cells_view(sel, cells, int(zoom), window, color, tiles == "photos", mtime)


def _nav(cells: pd.DataFrame, window, picked: pd.DataFrame | None) -> None:
    """Zoom buttons: into the picked cells, one level out, the whole map."""
    cols = st.columns(3)
    if picked is not None and len(picked):
        cols[0].button("Zoom into the selection", icon=":material/zoom_in:", key="atlas_zoom_in",
                       on_click=_zoom_to, args=(cells, atlas_views.bounds_of(picked)))
    if window is not None:
        cols[1].button("Whole map", icon=":material/zoom_out_map:", key="atlas_whole",
                       on_click=_zoom_to, args=(cells, None))


def _cells_view(sel, cells, level, window, color, photos, mtime) -> None:
    shown, colors, legend, picture = _mosaic(str(sel.cache.root), mtime, level, window, color, photos, sel, cells)
    view = window or atlas_views.whole(cells)
    classes, _, _ = _labels(sel)
    n = int(shown["count"].sum())
    where = "the whole map" if window is None else "the selected region"
    title = f"{n:,} images in {len(shown):,} cells ({level} × {level} over {where})"
    if photos and len(shown) > MAX_PHOTO_TILES:
        st.caption(f"{len(shown):,} cells are too many to show as photos: coloured squares instead — "
                   "zoom into a region to see them.")
    fig = aa.atlas_figure(shown, view, picture, colors, legend, classes, legend_title=atlas.COLOR_BY[color],
                          title=title)
    ids = _chart(fig, f"atlas_cells_{level}_{color}_{photos}_{_fmt_window(window)}",
                 f"atlas-{level}x{level}-{color}")
    picked = shown.set_index("cell").loc[[i for i in ids if i in set(shown["cell"])]].reset_index()
    _nav(cells, window, picked)
    if picked.empty:
        st.caption("Nothing selected yet: click a cell, or box-select several (toolbar).")
    elif len(picked) == 1:
        _cell_detail(sel, picked.iloc[0])
    else:
        pts = atlas_views.cells_points(sel.cache, picked, MAX_THUMBS)
        acc = float((picked["accuracy"] * picked["count"]).sum() / max(picked["count"].sum(), 1))
        st.markdown(f"**{len(picked)} cells selected, {int(picked['count'].sum()):,} images**, "
                    f"{acc:.0%} classified right — their typical images first:")
        _images(sel, pts, picked["count"].sum())


def _chart(fig, key: str, export_name: str) -> list:
    """Show an atlas figure (click, box and lasso select) with its download buttons; the
    selected cells' or images' ids."""
    event = st.plotly_chart(fig, width="stretch", theme=None, on_select="rerun",
                            selection_mode=("points", "box", "lasso"), key=key,
                            config={"displayModeBar": True, "displaylogo": False})
    export_ui.download_buttons(fig, export_name)
    return _selected(event)


@st.cache_resource(max_entries=16, show_spinner=False)
def _points(root: str, mtime: float, window, color: str, _sel, _cells):
    """(region, figure) of the single-images view; built once per view and cache version
    (shared, so read-only)."""
    classes, splits, groups = _labels(_sel)
    region = atlas_views.region_points(_sel.cache, _cells, window, MAX_POINTS)
    view = window or atlas_views.whole(_cells)
    keys = aa.point_keys(region.points, color, classes, splits, groups)
    order, palette = atlas.color_scheme(color, keys, classes, sorted(set(groups.values())))
    bins = atlas_views.visible(_cells, atlas_views.levels(_cells)[-1], window) if region.sampled else None
    title = (f"{len(region.points):,} of {region.total:,} images (a random sample, over the grey bins of "
             "the finest cells: darker = more images)" if region.sampled else f"{region.total:,} images")
    return region, aa.points_figure(region.points, keys, order, palette, classes, splits, view, bins=bins,
                                    legend_title=atlas.COLOR_BY[color], title=title)


def _points_view(sel, cells, window, color, mtime) -> None:
    region, fig = _points(str(sel.cache.root), mtime, window, color, sel, cells)
    rows = _chart(fig, f"atlas_points_{color}_{_fmt_window(window)}", f"atlas-images-{color}")
    _nav(cells, window, None)
    if not rows:
        st.caption("Nothing selected yet: click an image, or box / lasso several (toolbar).")
        return
    pts = region.points.set_index("row").loc[rows].reset_index()
    _images(sel, pts, len(pts))


def _images(sel, pts: pd.DataFrame, total: int) -> None:
    """Thumbnails and a table (linking to the Sample page) of the images ``pts``."""
    classes, splits, _ = _labels(sel)
    info = state.sample_rows(sel, pts["row"].tolist(), ("id", "class", "pred_class", "p_pred", "split", "correct"))
    wrong = int((~info["correct"].astype(bool)).sum())
    mix = info["class"].value_counts()
    mix = mix[mix > 0]  # a categorical column counts every city, the absent ones as 0
    st.markdown(f"{len(info)} image(s) shown — " + ", ".join(f"{n} {c}" for c, n in mix.items())
                + f"; {wrong} misclassified." + (f" ({int(total):,} in all; showing {len(info)}.)"
                                                if total > len(info) else ""))
    shown = info.head(MAX_THUMBS)
    paths = state.records(sel, shown["row"], ("path",))["path"]  # from their shards, not a million paths
    st.image([state.thumbnail_bytes(str(sel.image_path(p)), 160) for p in paths],
             caption=[f"{c} → {pc} {pp:.0%}" + ("" if ok else " ✗") for c, pc, pp, ok in
                      zip(shown["class"], shown["pred_class"], shown["p_pred"], shown["correct"])], width=140)
    table = info[["id", "class", "pred_class", "p_pred", "split"]].head(MAX_TABLE_ROWS).copy()
    table["open"] = [links.sample_url(sel.name, str(i)) for i in table["id"]]
    if len(info) > MAX_TABLE_ROWS:
        st.caption(f"The table lists the first {MAX_TABLE_ROWS} of the {len(info):,} images shown "
                   "(zoom in or select fewer for the rest).")
    st.dataframe(table, hide_index=True, width="stretch", key="atlas_selection_table",
                 column_config={"p_pred": st.column_config.ProgressColumn("confidence", min_value=0,
                                                                           max_value=1, format="percent"),
                                "pred_class": "predicted", "class": "true",
                                "open": st.column_config.LinkColumn("Sample page", display_text="open ↗")})


def _cell_detail(sel, cell: pd.Series) -> None:
    classes, _, _ = _labels(sel)
    st.subheader(f"Cell ({int(cell['ix'])}, {int(cell['iy'])}) of {int(cell['level'])} × {int(cell['level'])}")
    c1, c2, c3 = st.columns([1, 1, 2])
    with c1:
        st.image(state.thumbnail_bytes(str(sel.image_path(cell["typical_path"])), 224), width="stretch",
                 caption=f"its most typical image ({cell['typical_id']}): closest to the cell's mean activation")
    with c2:
        _cell_featvis(sel, int(cell["cell"]))
    with c3:
        st.markdown(f"**{int(cell['count']):,} images** · {cell['accuracy']:.0%} classified right")
        shares = {c: int(cell[f"n_class_{k}"]) for k, c in enumerate(classes) if cell[f"n_class_{k}"] > 0}
        vals = np.array(list(shares.values()), float)
        order = np.argsort(-vals, kind="stable")
        st.markdown(charts.html_bars(vals[order] / max(vals.sum(), 1), [list(shares)[i] for i in order],
                                     value_format=".0%"), unsafe_allow_html=True)
    pts = atlas_views.cell_points(sel.cache, cell, MAX_THUMBS)
    _images(sel, pts, int(cell["count"]))


def _cell_featvis(sel, cell: int) -> None:
    """The feature visualisation of the cell's mean activation: shown when rendered, else a
    button renders it (spinner, progress) and keeps it in the run's cache."""
    have = atlas_featvis.existing(sel.cache, cell)
    if have is None and st.button("What the network sees here", icon=":material/visibility:",
                                  key=f"atlas_fv_{cell}",
                                  help="Render the feature visualisation of this cell's mean activation "
                                       "(an image optimised to excite that direction; saved for next time)"):
        bar = st.progress(0.0, text="rendering the cell's feature visualisation")
        try:
            with featvis_ui.RENDER_LOCK:
                have = atlas_featvis.ensure_cell_picture(
                    sel.cache, sel.run, lambda: state.get_model(sel.run),
                    cell, on_step=lambda d, t: bar.progress(min(d / max(t, 1), 1.0), text=f"step {d} of {t}"))
        except (OSError, ValueError, RuntimeError) as e:
            st.warning(f"Could not render it: {str(e).splitlines()[0] if str(e) else type(e).__name__}.")
        finally:
            bar.empty()
    if have is not None:
        st.image(str(have), width="stretch", caption="feature visualisation of the cell's mean activation")
    else:
        st.caption("An image that excites this cell's mean activation: rendered on demand (the run's "
                   "feature-visualisation settings).")
        st.image(images.placeholder_icon(128, "not rendered"), width=128)
