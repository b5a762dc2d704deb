"""What the Errors page shows, apart from drawing it: its defaults, the rows it reads, the
photo | true map | predicted map strips, and its first view (what it shows when opened without
choices), which the server's warm-up computes ahead (``first_views``). Here, not in the page
script, because Streamlit keys a cached function by its module and a page runs as ``__main__``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from analysis.explain import mistakes
from dashboard import state
from dashboard.figures import images

SPLITS = {"held-out": "held-out (val + test)", "test": "test", "val": "val", "train": "train",
          "all": "all images"}
DEFAULT_SPLIT = "held-out"
# images listed at first, more on demand: each is three pictures, and a page of strips is the
# wall of maps a first look does not need (on a million-image cache 29 strips took a third of
# the page's first second)
SHOW = (6, 12, 24, 48, 96)
MISTAKES = (6, 12, 24, 48)
GROUP_MISTAKES = 4
CELL = 168  # px of each picture in an image's photo | true | predicted strip
COLUMNS = ("row", "id", "class", "group", "split", "pred_class", "pred_group", "p_pred", "p_true", "p_group",
           "correct", "correct_group")
"""What the page reads of the samples table; the paths of the images it shows come from the
shards that hold them (``state.records``)."""


@st.cache_data(show_spinner=False, max_entries=1024)
def strip(cache_root: str, mtime: float, row: int, path: str, k_true: int, k_pred: int,
          true: str, pred: str, _sel: state.Selection, cell: int = CELL) -> np.ndarray:
    """photo | Grad-CAM of the true output | Grad-CAM of the predicted output (one image)."""
    raw = np.asarray(state.array(_sel.cache, "cams")[row], dtype=np.float32)
    try:
        photo = images.to_rgb_array(images.fit_square(path, 2 * cell))
    except OSError:
        photo = images.to_rgb_array(images.placeholder_icon(2 * cell, "missing"))
    pics = [photo, images.gradcam_overlay(photo, raw, k_true)]
    caps = ["photo", f"{true} (true)"]
    if k_pred != k_true:
        pics.append(images.gradcam_overlay(photo, raw, k_pred))
        caps.append(f"{pred} (pred.)")
    return np.asarray(images.image_grid(pics, ncols=3, cell=cell, pad=3, captions=caps))


HEAD_COLUMNS = {"city": ("class", "pred_class", "p_pred"), "group": ("group", "pred_group", "p_group")}
"""Per head: the true, predicted and confidence columns of the samples table."""


def strips(sel: state.Selection, rows: pd.DataFrame, head: str = "city") -> list[np.ndarray]:
    """The strip of each of ``rows`` (samples rows) for ``head``: Grad-CAM of its true and its
    predicted class (city) or group (the group outputs follow the classes in the maps)."""
    labels = sel.labels
    kc = len(labels.classes)
    names = labels.classes if head == "city" else labels.groups
    index = {c: i + (0 if head == "city" else kc) for i, c in enumerate(names)}
    t_col, p_col, _ = HEAD_COLUMNS[head]
    mtime = sel.cache.mtime("cams")
    paths = state.records(sel, rows["row"], ("path",))["path"].tolist()
    return [strip(str(sel.cache.root), mtime, int(r["row"]), str(sel.image_path(path)), index[r[t_col]],
                  index[r[p_col]], str(r[t_col]), str(r[p_col]), sel)
            for r, path in zip(rows.to_dict("records"), paths)]


def why_pool(why: pd.DataFrame, true: str, pred: str) -> pd.DataFrame:
    """The misclassified images the "why" section offers, most confident first: those of the
    cell (true, pred) when it has any, else all of them; one row per image."""
    images_ = why.drop_duplicates("row")
    in_cell = images_[(images_["true"] == true) & (images_["predicted"] == pred)]
    return (in_cell if len(in_cell) else images_).sort_values("p_pred", ascending=False, kind="stable")


def first_view(sel: state.Selection, wait=lambda: None, warn=None) -> None:
    """What the page computes when opened without choices: the held-out rows, the concept
    contributions of their mistakes and the confused pairs, and the strips of the images it
    lists (the largest off-diagonal cell, the most confident mistakes, the group mistakes and
    the image the "why" section picks). ``wait()`` is called between the steps (the warm-up
    lets a page that runs go first); ``warn`` takes a names file's one-line problem."""
    from dashboard import why as why_ui

    sub = state.split_rows(sel, DEFAULT_SPLIT, COLUMNS)
    if sub.empty:
        return
    wait()
    contrast = why_ui.contrast_tables(sel, sub, DEFAULT_SPLIT, warn=warn)
    labels = list(sel.labels.classes)
    true, pred = mistakes.default_cell(mistakes.confusion_counts(sub, labels), labels)
    for rows, head in ((mistakes.cell_rows(sub, true, pred).head(SHOW[0]), "city"),
                       (mistakes.confident_mistakes(sub, "city", MISTAKES[0]), "city"),
                       (mistakes.confident_mistakes(sub, "group", GROUP_MISTAKES), "group")):
        wait()
        strips(sel, rows, head=head)
    if not isinstance(contrast, str) and not contrast[0].empty:
        r = why_pool(contrast[0], true, pred).iloc[0]
        wait()
        strips(sel, pd.DataFrame({"row": [r["row"]], "class": [r["true"]], "pred_class": [r["predicted"]]}))
