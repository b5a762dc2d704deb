"""Datasets page: what data is there — also before any model is trained.

It lists the datasets under the data root with their counts and a few thumbnails per class."""

from __future__ import annotations

import streamlit as st

from analysis.data.dataset import DatasetError, list_datasets
from analysis.data.summary import count_table
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

name = st.sidebar.selectbox("Dataset", names, key="dataset")
ds = datasets[name]
try:
    df = ds.read()
except DatasetError as exc:
    st.error(str(exc))
    st.stop()

st.header(f"Dataset `{name}`")
c1, c2, c3 = st.columns(3)
c1.metric("Images", len(df))
c2.metric("Classes", df["class"].nunique())
c3.metric("Rejected / duplicates on import", len(ds.read_rejects()))
st.dataframe(count_table(df), width="stretch")

st.subheader("Samples per class")
per_class = st.slider("Thumbnails per class", 4, 16, 8)
for cls, rows in df.groupby("class"):
    st.markdown(f"**{cls}** ({rows['group'].iat[0]}, {len(rows)} images)")
    sample = rows.sample(min(per_class, len(rows)), random_state=0)
    st.image([str(ds.image_path(p)) for p in sample["path"]], width=120)
