"""Curate page: choose, class by class, the photos that really show a street.

A paged grid of thumbnails, worst first (low Places365 street score, unusual for the
class, or disputed by a trained model; near-duplicates and the headings of one capture
point side by side). Each decision is written to the dataset table at once, under a
file lock that re-reads the table, so a refresh, a crash or a second tab loses nothing;
every decision is logged in the curation log and can be undone.

Keyboard (Streamlit button shortcuts; they act when no text field has the focus):

    J / K        next / previous image (the blue frame; the large view on the right)
    A / X        accept / reject the current image and move on
    Backspace    set the current image back to unreviewed
    S            select / unselect the current image
    Shift+S      select every image on the page;   Esc  clear the selection
    Shift+A      accept the selected images;       Shift+X  reject the selected images
    M            move the selected images (or the current one) to the class chosen
    Shift+Enter  accept every other unreviewed image on this page, then next page
    N / P        next / previous page
    U            undo this tab's last action

Scores are read from the dataset's score table (``streetlens data scores``); the page
never runs a model. Without scores it offers to compute them in a background process.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.data import curation, review
from analysis.data.dataset import Dataset, DatasetError, list_datasets
from dashboard import curate_actions as actions
from dashboard import curate_grid, state
from dashboard.dataset_tables import load_queue, load_scores, load_table, page_sources, table_key
from dashboard.curate_grid import CURSOR, MESSAGE, SELECTED

COLUMNS = 6
PAGE_SIZES = [30, 60, 120]
GLYPH = {"accepted": "✓", "rejected": "✗"}
SHOW_LABELS = {"unreviewed": "Unreviewed", "all": "All", "accepted": "Accepted", "rejected": "Rejected"}
KEYS_HELP = """
| key | does |
| --- | --- |
| **J** / **K** | next / previous image (blue frame, large view on the right) |
| **A** / **X** | accept / reject the current image, then the next one |
| **Backspace** | current image back to *unreviewed* |
| **S** | select / unselect the current image |
| **Shift+S** / **Esc** | select all on the page / clear the selection |
| **Shift+A** / **Shift+X** | accept / reject the selected images |
| **M** | move the selected (or the current) image to the chosen class |
| **Shift+Enter** | accept every other unreviewed image on the page, next page |
| **N** / **P** | next / previous page |
| **U** | undo this tab's last action |

Or click ✓ / ✗ under a thumbnail (click the lit one again to make it unreviewed).
Shortcuts act when no text field has the keyboard focus.
"""


# ------------------------------------------------------------------ loaders (cached: dataset_tables)
def dataset_names() -> list[str]:
    return [ds.name for ds in list_datasets(state.data_root())]


# ------------------------------------------------------------------ widgets
def scores_panel(ds: Dataset, table: pd.DataFrame, scores: pd.DataFrame | None, meta: dict) -> None:
    """Sidebar: what the scores are, whether any are missing, and a background run."""
    box = st.sidebar.container(border=True)
    box.markdown("**Scores**")
    job = actions.scoring_status(ds)
    running = bool(job and job.running)
    n_missing = len(table) - (0 if scores is None else int(table["id"].isin(scores["id"]).sum()))
    if scores is not None:
        box.caption(f"{len(scores)} images scored by `{meta.get('model', '?')}` "
                    f"({str(meta.get('computed', ''))[:16].replace('T', ' ')} UTC). "
                    f"Street = P({', '.join(meta.get('street_categories', [])[:5])}, …).")
        if meta.get("dispute_run"):
            box.caption(f"Model disputes: run `{meta['dispute_run']}`.")
    if running:
        with box:
            _scoring_progress(str(ds.root))
        return
    if job and job.state == "failed":
        box.error(f"Scoring failed: {job.message}")
    if scores is None or n_missing:
        label = "Compute scores" if scores is None else f"Score {n_missing} new image(s)"
        runs = [r for r in state.run_names()]
        run = box.selectbox("Also model disputes from run", ["(none)"] + runs, key="curate_run",
                            help="A trained run's disagreement with each label (optional).") if runs else None
        box.button(label, key="curate_score_btn", on_click=actions.start_scoring,
                   args=(str(ds.root), None if run in (None, "(none)") else run),
                   help="Runs `streetlens data scores` in a background process "
                        "(Places365 wideresnet18; a few images per second on a CPU).")
        box.caption(f"or in a terminal: `streetlens data scores --dataset {ds.root}`")


@st.fragment(run_every=1.0)
def _scoring_progress(root: str) -> None:
    job = actions.scoring_status(Dataset(Path(root)))
    done, total = (int(job.done), int(job.total)) if job else (0, 0)
    if job and job.running:
        st.progress(job.fraction, text=f"Scoring in the background: {done}/{total or '?'} images")
    else:
        st.session_state.curate_scoring = False
        st.rerun(scope="app")


def focus_panel(ds: Dataset, row, classes: list[str], root: str, page_ids: list[str],
                page_rows: list[int]) -> None:
    """The current image large, its facts, and the keyboard-driven actions."""
    st.image(state.thumbnail_bytes(str(ds.image_path(row.path)), 480), width="stretch")
    st.markdown(f"**{GLYPH.get(row.curated, '·')} {row.curated}** · `{row.id}` · "
                f"{row.width}×{row.height}")
    facts = []
    if isinstance(row.scene_top, str):
        facts.append(f"Places365: {row.scene_top}")
    if not pd.isna(row.street):
        facts.append(f"street {row.street:.3f} · outlier {row.outlier:.3f}")
    if not pd.isna(row.dispute):
        facts.append(f"model says {row.pred_class} (dispute {row.dispute:.2f})")
    if row.group_size > 1:
        facts.append(f"{row.group_size} images of this near-duplicate / same-place group are "
                     "shown side by side")
    ids, rows = ((tuple(page_ids), tuple(page_rows)) if str(row.id) in page_ids else
                 ((str(row.id),), (int(row.table_row),)))
    src = page_sources(root, table_key(ds), ids, rows).get(str(row.id))
    src = src if isinstance(src, str) else ""
    facts.append(f"source: {src if src.startswith('http') else Path(src).name}")
    st.caption("  \n".join(facts))
    with st.container(horizontal=True, gap="small"):
        st.button("✓ Accept", key="k_accept", shortcut="A",
                  on_click=actions.decide, args=(root, [row.id], "accepted"),
                  kwargs={"what": "accepted", "advance": True})
        st.button("✗ Reject", key="k_reject", shortcut="X",
                  on_click=actions.decide, args=(root, [row.id], "rejected"),
                  kwargs={"what": "rejected", "advance": True})
        st.button("Unreviewed", key="k_reset", shortcut="Backspace",
                  on_click=actions.decide, args=(root, [row.id], "unreviewed"))
    with st.container(horizontal=True, gap="small"):
        st.button("◀ Prev", key="k_prev", shortcut="K", on_click=actions.move_cursor, args=(-1,))
        st.button("Next ▶", key="k_next", shortcut="J", on_click=actions.move_cursor, args=(+1,))
        st.button("Select", key="k_sel", shortcut="S", on_click=actions.toggle_current, args=(page_ids,))


def decision_log(ds: Dataset, root: str) -> None:
    history = curation.actions(ds, tail_bytes=128 * 1024)
    undone = curation.undone_actions(history)
    with st.expander(f"Decision log ({ds.files.curation_log})", expanded=False):
        if not history:
            st.caption("No decisions yet.")
            return
        for a in reversed(history[-15:]):
            c1, c2 = st.columns([6, 1], vertical_alignment="center")
            mark = " — *undone*" if a.id in undone else ""
            c1.markdown(f"`{a.time[11:19]}` **{a.who}** ({a.source}): {a.describe()}{mark}")
            if a.kind != "undo" and a.id not in undone:
                c2.button("Undo", key=f"undo-{a.id}", on_click=actions.undo_action, args=(root, a.id))
        st.caption(f"Older entries: `streetlens data curate --dataset {ds.root} --log`")


# ------------------------------------------------------------------ the page
def main() -> None:
    st.title("Curate")
    names = dataset_names()
    if not names:
        st.info(f"No dataset under `{state.data_root().resolve()}` yet: import photos with "
                "`streetlens data import PATH --dataset NAME` or collect them with "
                "`streetlens data collect`, then curate them here.")
        st.stop()
    name = state.url_selectbox("Dataset", names, "dataset", container=st.sidebar)
    ds = Dataset(state.data_root() / name)
    root = str(ds.root)
    try:
        table = load_table(ds)
    except DatasetError as exc:
        st.error(str(exc))
        st.stop()
    counts = review.class_counts(table)
    classes = list(counts.index)
    if not classes:
        st.info("This dataset has no images yet.")
        st.stop()
    cls = state.url_selectbox(
        "Class", classes, "cls", container=st.sidebar,
        format_func=lambda c: f"{c} · {counts.at[c, 'unreviewed']} of {counts.at[c, 'images']} left")
    show = st.sidebar.segmented_control("Show", list(SHOW_LABELS), format_func=SHOW_LABELS.get,
                                        default=state.url_get("show", "all") if
                                        state.url_get("show", "all") in SHOW_LABELS else "all",
                                        key="w_show", required=True)
    state.url_set(show=show)
    st.session_state.curate_show = show
    scores, meta = load_scores(ds)
    orders = dict(review.ORDERS)
    if scores is None:
        orders = {"file": orders["file"]}
    elif scores["dispute"].isna().all():
        orders.pop("dispute")
    order = state.url_selectbox("Order", list(orders), "order", container=st.sidebar,
                                default="street", format_func=orders.get)
    keep_groups = st.sidebar.toggle("Near-duplicates together", value=True, key="w_groups",
                                    help="Images of one near-duplicate / same-capture-point group "
                                         "(the dataset table's group_id) follow each other.")
    per_page = st.sidebar.selectbox("Per page", PAGE_SIZES, index=1, key="w_per_page")
    scores_panel(ds, table, scores, meta)
    with st.sidebar.expander("Keyboard"):
        st.markdown(KEYS_HELP)
    st.sidebar.caption(f"Decisions of this tab are logged as `{actions.who()}`.")

    queue = load_queue(ds, table, scores, cls, show=show, order=order, keep_groups=keep_groups)
    c = counts.loc[cls]
    reviewed = int(c["accepted"] + c["rejected"])
    st.markdown(f"### {cls} ({table.loc[table['class'] == cls, 'group'].iat[0]})")
    st.progress(reviewed / max(int(c["images"]), 1),
                text=f"{reviewed} of {int(c['images'])} reviewed · {int(c['accepted'])} accepted · "
                     f"{int(c['rejected'])} rejected · {int(c['unreviewed'])} to go · "
                     f"order: {orders[order].lower()}")
    if scores is None:
        st.info("No scores yet, so the images are in file order. Compute them (sidebar) to see "
                "the non-street pictures first.")
    msg = st.session_state.pop(MESSAGE, None)
    if msg:
        st.toast(msg)

    # paging (reset when the view changes)
    n_pages = max(1, math.ceil(len(queue) / per_page))
    view = (name, cls, show, order, keep_groups, per_page)
    if st.session_state.get("curate_view") != view:
        st.session_state.curate_view = view
        st.session_state.curate_page = 1
        st.session_state[CURSOR] = None
    st.session_state.curate_n_pages = n_pages
    page = min(max(int(st.session_state.get("curate_page", 1)), 1), n_pages)
    st.session_state.curate_page = page
    rows = queue.iloc[(page - 1) * per_page: page * per_page]
    page_ids = rows["id"].astype(str).tolist()
    st.session_state.curate_page_ids = page_ids
    if st.session_state.get(CURSOR) not in page_ids:
        last = st.session_state.pop("curate_cursor_last", False)
        st.session_state[CURSOR] = (page_ids[-1] if last else page_ids[0]) if page_ids else None
    cursor_id = st.session_state[CURSOR]
    selected = [i for i in st.session_state.get(SELECTED, []) if i in page_ids]
    st.session_state[SELECTED] = selected
    others = [k for k in classes if k != cls]

    # toolbar: bulk actions
    with st.container(horizontal=True, gap="small", vertical_alignment="bottom"):
        st.button("Select page", key="b_selall", shortcut="Shift+S", on_click=actions.select, args=(page_ids, True))
        st.button("Clear", key="b_clear", shortcut="Esc", on_click=actions.select, args=(page_ids, False))
        st.button(f"✓ Accept {len(selected)} selected", key="b_acc", shortcut="Shift+A",
                  on_click=actions.decide, args=(root, selected, "accepted"),
                  kwargs={"what": "accepted selected", "clear": True}, disabled=not selected)
        st.button(f"✗ Reject {len(selected)} selected", key="b_rej", shortcut="Shift+X",
                  on_click=actions.decide, args=(root, selected, "rejected"),
                  kwargs={"what": "rejected selected", "clear": True}, disabled=not selected)
        if others:
            target = st.selectbox("Move to class", others, key="w_target", label_visibility="collapsed",
                                  width=150)
            move_ids = selected or ([cursor_id] if cursor_id else [])
            st.button(f"Move {len(move_ids)} to {target}", key="b_move", shortcut="M",
                      on_click=actions.decide, args=(root, move_ids, "accepted", target),
                      kwargs={"what": f"moved to {target}", "clear": True}, disabled=not move_ids,
                      help="Relabels (class and group) and accepts; the file stays where it is.")
        rest = [i for i, s in zip(page_ids, rows["curated"]) if s == "unreviewed" and i not in selected]
        st.button(f"✓ Accept {len(rest)} other unreviewed, next page", key="b_rest",
                  shortcut="Shift+Enter", on_click=actions.accept_rest, args=(root, page_ids),
                  disabled=not rest and page >= n_pages)
        st.button("↶ Undo", key="b_undo", shortcut="U", on_click=actions.undo_mine, args=(root,))

    if scores is not None:
        with st.expander("Reject by score (this class, unreviewed images only)"):
            opts = ["street"] + ["outlier"] + (["dispute"] if "dispute" in orders else [])
            cols = st.columns([1, 2, 2], vertical_alignment="bottom")
            score = cols[0].selectbox("Score", opts, key="w_thr_score")
            default = 0.1 if score == "street" else 0.5
            thr = cols[1].number_input("below" if score == "street" else "above", 0.0, 2.0,
                                       default, 0.01, key=f"w_thr_{score}")
            pending = queue if show == "all" else load_queue(ds, table, scores, cls)
            pending = pending[pending["curated"] == "unreviewed"]
            hit = pending[pending[score] < thr] if score == "street" else pending[pending[score] > thr]
            cols[2].button(f"✗ Reject {len(hit)} with {score} {'<' if score == 'street' else '>'} {thr:g}",
                           key="b_thr", on_click=actions.reject_by_score, args=(root, score, thr, cls),
                           disabled=hit.empty)

    if rows.empty:
        st.success(f"Nothing {SHOW_LABELS[show].lower()} left in {cls}." if show != "all" else
                   "No images in this class.")
        decision_log(ds, root)
        return

    left, right = st.columns([4, 1.3], gap="medium")
    with left:
        chosen = set(selected)
        cells = [curate_grid.cell_data(ds, row, (page - 1) * per_page + k + 1, selected=row.id in chosen,
                                       current=row.id == cursor_id)
                 for k, row in enumerate(rows.itertuples(index=False))]
        st.session_state.curate_runs = st.session_state.get("curate_runs", 0) + 1
        curate_grid.render(cells, columns=COLUMNS, key="curate_grid", on_event=partial(actions.grid_event, root),
                           run=st.session_state.curate_runs)
        if n_pages > 1:
            with st.container(horizontal=True, gap="small", vertical_alignment="center"):
                st.button("◀ Page", key="b_pprev", shortcut="P", on_click=actions.turn_page, args=(-1,),
                          disabled=page <= 1)
                st.caption(f"page {page} of {n_pages} ({len(queue)} images)")
                st.button("Page ▶", key="b_pnext", shortcut="N", on_click=actions.turn_page, args=(+1,),
                          disabled=page >= n_pages)
    with right:
        current = rows[rows["id"] == cursor_id]
        if not current.empty:
            focus_panel(ds, next(current.itertuples(index=False)), classes, root, page_ids,
                        rows["table_row"].astype(int).tolist())
    decision_log(ds, root)


main()
