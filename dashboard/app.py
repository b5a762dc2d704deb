"""streetlens dashboard entry point: ``streamlit run dashboard/app.py`` (or ``make run``).

Pages are registered here with ``st.navigation``; each lives in ``dashboard/app_pages``.
The dashboard only reads what the CLI stages wrote (datasets, runs, caches).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The dashboard's tensors are small and short-lived: PyTorch's transparent huge pages, which
# importing `analysis` turns on for the analysis' forward passes, bring nothing here (a fresh
# server's first page on the million-image cache took 8.7 s with them, 6.3 s without; one
# run each). Set before anything imports torch.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "0")

import streamlit as st  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` does not put the project on sys.path
    sys.path.insert(0, str(ROOT))

PAGES_DIR = ROOT / "dashboard" / "app_pages"

# (section, file, title, icon, url path); the first page is the default
PAGE_SPECS: list[tuple[str, str, str, str, str]] = [
    ("Model", "overview.py", "Overview", ":material/monitoring:", "overview"),
    ("Model", "portrait.py", "Portraits", ":material/location_city:", "portrait"),
    ("Model", "sample.py", "Sample", ":material/image_search:", "sample"),
    ("Model", "errors.py", "Errors", ":material/report:", "errors"),
    ("Model", "compare.py", "Compare", ":material/compare:", "compare"),
    ("Whole dataset", "atlas.py", "Atlas", ":material/scatter_plot:", "atlas"),
    ("Whole dataset", "features.py", "Features", ":material/extension:", "features"),
    ("Whole dataset", "reliability.py", "Reliability", ":material/verified:", "reliability"),
    ("Try it", "new_image.py", "New image", ":material/add_photo_alternate:", "new-image"),
    ("Data", "datasets.py", "Datasets", ":material/folder_open:", "datasets"),
    ("Data", "curate.py", "Curate", ":material/checklist:", "curate"),
]


def build_pages(pages_dir: Path = PAGES_DIR) -> dict[str, list]:
    """``st.navigation``'s sections → pages; the app's root opens the first one.

    Streamlit serves its *default* page at the root only (``/overview`` would say "Page
    not found"), so every listed page keeps its own address and the default is a hidden
    page that switches to the first one."""
    sections: dict[str, list] = {}
    for section, file, title, icon, url_path in PAGE_SPECS:
        sections.setdefault(section, []).append(
            st.Page(str(Path(pages_dir) / file), title=title, icon=icon, url_path=url_path))
    first = next(iter(sections.values()))[0]
    home = st.Page(lambda: st.switch_page(first, query_params=dict(st.query_params)), title=first.title,
                   url_path="home", default=True, visibility="hidden")
    sections[next(iter(sections))].insert(0, home)
    return sections


from dashboard import process, warmup  # noqa: E402 - after the sys.path line above


def main() -> None:
    process.single_threaded_blas()  # a server's arithmetic is small: see dashboard/process.py
    st.set_page_config(page_title="streetlens", page_icon="🏙️", layout="wide")
    with warmup.page_running():  # the background warm-up waits while a page runs
        st.navigation(build_pages()).run()
    warmup.start()  # once per server, after its first page: shared columns and imports, while the user reads


if __name__ == "__main__":  # how `streamlit run` runs it
    main()
