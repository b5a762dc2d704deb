"""Sample: one image, what the model predicts, and why — Building Blocks style.

Pick an image (filters in the sidebar: split, true / predicted class, right / wrong,
confidence range, and the group head's; all kept in the URL with the image, ``?id=…``, so a
view can be shared). Then:

* the photo and the prediction bars of both heads (the true class marked);
* Grad-CAM for any class of either head (default: the prediction), or the contrastive
  "why A rather than B" map ReLU(raw_A − raw_B), with the top classes at a glance;
* pixel-level methods on demand (every registered method that declares ``on_demand``):
  computed once, then read from the cache;
* building blocks for the chosen target: the channels that push towards it in THIS image
  (feature-visualisation icons, attribution bars, where each fires), the image's own
  neuron groups (per-image NMF) with their share of the evidence, and the dataset
  concepts present in it;
* its nearest training images, with their class and whether the model got them right;
* with ``?compare=B`` (or "Side by side with" in the sidebar): a second run's prediction
  and map of the same target beside this run's (``dashboard/sample/side_by_side.py``).

The blocks live in ``dashboard/sample``; what they compute comes from ``analysis``. Every
array is read from the memory-mapped analysis cache; only the shown image's maps are
upsampled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.sample import blocks, maps, neighbours, picker, side_by_side
from dashboard.sample.pictures import display_photo


# what the page reads of the samples table: all but the paths, which come for the one image
# shown (and its neighbours) from the shard that holds it (state.records): a million paths
# took 0.4 s to read. (A comment, not a string: Streamlit would print a bare string.)
COLUMNS = ("row", "id", "class", "group", "split", "y_class", "y_group", "pred_class", "pred_group", "p_pred",
           "p_true", "p_group", "margin", "correct", "correct_group")


def main() -> None:
    st.title("Sample")
    sel = state.require_analysis(state.select_run())
    samples = sel.samples(*COLUMNS)
    f = picker.sidebar_filters(sel.labels)
    display = picker.display_settings()
    root, mtime = str(sel.cache.root), sel.cache.mtime("samples")
    matches = picker.filtered_positions(root, mtime, tuple(sorted(f.items())), samples, f)
    index = picker.id_index(root, mtime, samples)
    other = side_by_side.compare_picker(sel)
    sample_view(sel, samples, matches, index, display, other)


@st.fragment
def sample_view(sel, samples: pd.DataFrame, matches: np.ndarray, index: pd.Index,
                display: dict, other: str | None = None) -> None:
    """Everything about the chosen image. A fragment: the picker's buttons, the map
    controls and "open a neighbour" rerun only this part, not the sidebar's filters and
    the run selector (a sample change then sends fewer elements to the browser)."""
    position = picker.pick_image(samples, matches, index)
    if position is None:
        st.info("No image matches these filters.")
        return
    row = samples.iloc[position].copy()
    r = int(row["row"])
    row["path"] = state.records(sel, [r], ("path",))["path"].iat[0]
    probs_c = np.asarray(state.array(sel.cache, "class_probs")[r], dtype=np.float32)
    probs_g = np.asarray(state.array(sel.cache, "group_probs")[r], dtype=np.float32)
    photo = display_photo(str(sel.image_path(row["path"])))

    maps.header(row, sel.name)
    maps.predictions(photo, row, sel.labels, probs_c, probs_g)
    st.subheader("Where does the model look?")
    t = maps.target_controls(sel.labels, row, probs_c, probs_g)
    if other:
        side_by_side.side_by_side(sel, other, row, photo, t, display)
        st.subheader(f"{sel.name} alone")
    raw = np.asarray(state.array(sel.cache, "cams")[r], dtype=np.float32)
    maps.gradcam_section(sel, photo, raw, t, display)
    maps.ondemand_section(sel, row, photo, t, display)
    blocks.building_blocks(sel, row, photo, t, display)
    neighbours.neighbours_section(sel, samples, row)


if __name__ == "__main__":
    main()
