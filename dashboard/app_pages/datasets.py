"""Datasets page: what data is there, before any model is trained.

Until training and analysis land, this is the dashboard's home: it lists the datasets
under the data root with their counts and a few thumbnails per class."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from analysis.data.dataset import Dataset, DatasetError, TABLE, default_data_root
from analysis.data.summary import count_table

st.title("streetlens")
st.caption("What makes a street look like Tokyo rather than Vancouver?")

data_root = Path(os.environ.get("STREETLENS_DATA", default_data_root())).resolve()
names = sorted(p.parent.name for p in data_root.glob(f"*/{TABLE}"))

if not names:
    st.info(
        f"No dataset yet under `{data_root}`. Build the offline demo with "
        "`streetlens data synth --dataset demo --per-class 100`, or import photos with "
        "`streetlens data import PATH --dataset NAME` (a folder per city)."
    )
    st.stop()

name = st.sidebar.selectbox("Dataset", names, key="dataset")
ds = Dataset(data_root / name)
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
st.dataframe(count_table(df), use_container_width=True)

st.subheader("Samples per class")
per_class = st.slider("Thumbnails per class", 4, 16, 8)
for cls, rows in df.groupby("class"):
    st.markdown(f"**{cls}** ({rows['group'].iat[0]}, {len(rows)} images)")
    sample = rows.sample(min(per_class, len(rows)), random_state=0)
    st.image([str(ds.image_path(p)) for p in sample["path"]], width=120)

st.divider()
st.caption(
    "Coming next: training runs and their comparison, Grad-CAM for every class, concept "
    "atlas, misclassification explorer, reliability checks and export for talks."
)
