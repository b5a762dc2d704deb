"""Datasets page: what data is there — also before any model is trained.

It lists the datasets under the data root with their counts and a few thumbnails per class."""

from __future__ import annotations

import streamlit as st

from analysis.data.dataset import DatasetError, list_datasets
from dashboard import state
from dashboard.dataset_tables import MAX_THUMBS, overview

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

name = st.sidebar.selectbox("Dataset", names, key="dataset")
ds = datasets[name]
try:
    n_images, counts, classes = overview(ds)
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
