"""Datasets page: what data is there — also before any model is trained.

It lists the datasets under the data root with their counts and a few thumbnails per class."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.data.dataset import Dataset, DatasetError, list_datasets
from analysis.data.summary import class_samples, count_table
from dashboard import state

st.title("streetlens")
st.caption("What makes a street look like Tokyo rather than Vancouver?")

data_root = state.data_root().resolve()
datasets = {ds.name: ds for ds in list_datasets(data_root)}
names = list(datasets)

if not names:
    st.info(
        f"No dataset yet under `{data_root}`. Build the offline demo with "
        "`streetlens data synth --dataset demo --per-class 100`, or import photos with "
        "`streetlens data import PATH --dataset NAME` (a folder per city)."
    )
    st.stop()

MAX_THUMBS = 16


@st.cache_data(show_spinner=False, max_entries=8)
def overview(root: str, mtime_ns: int, size: int) -> tuple[int, pd.DataFrame, list[tuple[str, str, int, list[str]]]]:
    """(images, count table, per class: name, group, images, up to MAX_THUMBS sample paths),
    read once per version of the table (a million-row table takes seconds to read)."""
    ds = Dataset(root)
    df = ds.read(["class", "group", "split"])
    return len(df), count_table(df), class_samples(ds, df, MAX_THUMBS)


name = st.sidebar.selectbox("Dataset", names, key="dataset")
ds = datasets[name]
try:
    stat = ds.table_path.stat()
    n_images, counts, classes = overview(str(ds.root), stat.st_mtime_ns, stat.st_size)
except (DatasetError, OSError) as exc:
    st.error(str(exc))
    st.stop()

st.header(f"Dataset `{name}`")
c1, c2, c3 = st.columns(3)
c1.metric("Images", f"{n_images:,}")
c2.metric("Classes", len(classes))
c3.metric("Rejected / duplicates on import", f"{len(ds.read_rejects()):,}")
st.dataframe(counts, width="stretch",  # counts with thousands separators, as the metrics above
             column_config={c: st.column_config.NumberColumn(format="localized") for c in counts.columns
                            if c != "group"})

st.subheader("Samples per class")
per_class = st.slider("Thumbnails per class", 4, MAX_THUMBS, 8)
for cls, group, count, paths in classes:
    st.markdown(f"**{cls}** ({group}, {count:,} images)")
    # the first of the class's sample of 16: the same images as a sample of per_class would not be
    st.image([str(ds.image_path(p)) for p in paths[:per_class]], width=120)
