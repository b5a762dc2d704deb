"""streetlens dashboard entry point: ``streamlit run dashboard/app.py`` (or ``make run``).

Pages are registered here with ``st.navigation``; each lives in ``dashboard/app_pages``.
The dashboard only reads what the CLI stages wrote (datasets, runs, caches).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` does not put the project on sys.path
    sys.path.insert(0, str(ROOT))

st.set_page_config(page_title="streetlens", page_icon="🏙️", layout="wide")

PAGES = [
    st.Page(str(ROOT / "dashboard/app_pages/datasets.py"), title="Datasets", icon="🗂️",
            default=True),
]

st.navigation(PAGES).run()
