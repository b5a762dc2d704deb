"""The dashboard's warm-up: it imports what the pages import (never PyTorch), and the
samples columns it reads are the ones the pages then find read."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard import state, warmup

ROOT = Path(__file__).resolve().parents[2]


def test_the_warmed_columns_are_those_the_pages_read():
    from dashboard.app_pages import errors, sample
    from dashboard.figures import atlas

    wanted = set(errors.COLUMNS) | set(sample.COLUMNS) | set(atlas.UMAP_POINT_COLUMNS)
    assert wanted <= set(warmup.SAMPLE_COLUMNS)
    assert "path" not in warmup.SAMPLE_COLUMNS  # pages read paths for the images they show


def test_page_imports_are_read_from_the_source(tmp_path):
    page = tmp_path / "page.py"
    page.write_text(textwrap.dedent("""
        import json, os.path
        from dashboard import state as st_state, why
        from .relative import nothing
        from analysis.explain.mistakes import *

        def later():
            import torch  # inside a function: not a top-level import
        raise SystemExit("never run")
    """))
    assert warmup.page_imports(page) == ["json", "os.path", "dashboard", "dashboard.state", "dashboard.why",
                                         "analysis.explain.mistakes"]
    assert warmup.import_modules(["json", "dashboard.why", "json.not_a_module", "no_such_module_x"]) == \
        ["json", "dashboard.why"]


def test_warm_reads_the_columns_a_page_then_finds(tmp_path, monkeypatch, counting_cache):
    monkeypatch.setattr(state, "_READ_COLUMNS", type(state._READ_COLUMNS)())
    df = pd.DataFrame({"row": np.arange(5), "id": [f"im{i}" for i in range(5)], "class": ["a", "b"] * 2 + ["a"],
                       "p_pred": np.linspace(0, 1, 5), "path": [f"a/{i}.jpg" for i in range(5)]})
    cache = counting_cache(tmp_path / "run")
    cache.write_table("samples", df)
    assert cache.table_column_names("samples") == list(df.columns)

    from dashboard.sample import picker

    built = []
    monkeypatch.setattr(picker, "id_index", lambda root, mtime, samples: built.append(list(samples["id"])))
    times = warmup.warm(cache)
    assert set(times) == {"columns_s", "imports_s"}
    assert cache.reads == [["row"], ["id"], ["class"], ["p_pred"]]  # SAMPLE_COLUMNS it has, one at a time; no path
    assert built == [list(df["id"])]  # the Sample page's id index, from the column read
    page = state._from_read_columns(cache, "samples", ("class", "row"), cache.mtime("samples"))
    assert len(cache.reads) == 4  # nothing read again
    pd.testing.assert_frame_equal(page, cache.table_columns("samples", ["class", "row"],
                                                            categorical=state.LABEL_COLUMNS))


def test_switched_off(monkeypatch):
    monkeypatch.setenv("STREETLENS_DASHBOARD_WARMUP", "0")
    assert warmup.start() is None


def test_warm_imports_never_bring_torch():
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from dashboard import warmup
        for page in sorted(warmup.PAGES_DIR.glob("*.py")):
            warmup.import_modules(warmup.page_imports(page))
        warmup.warm_plotly()
        print("torch" in sys.modules, "dashboard.why" in sys.modules, "analysis.explain.mistakes" in sys.modules,
              "matplotlib" in sys.modules)
        warmup.warm_colour_maps()
        from dashboard.figures import images
        print("torch" in sys.modules, "matplotlib" in sys.modules, images._lut.cache_info().currsize)
        print("streamlit.emojis" in sys.modules, end=" ")
        warmup.warm_streamlit()
        print("streamlit.emojis" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True", "False",  # the pages' imports leave matplotlib to …
                           "False", "True", "4",  # … the colour maps, each of CMAPS made once;
                           "False", "True"]  # Streamlit's emoji catalogue is loaded by warm_streamlit


def test_the_warm_up_waits_while_a_page_runs(monkeypatch):
    import threading

    done = threading.Event()
    monkeypatch.setattr(warmup, "WAIT_S", 5.0)
    with warmup.page_running():
        waiter = threading.Thread(target=lambda: (warmup.wait_for_pages(), done.set()))
        waiter.start()
        assert not done.wait(0.3)  # still waiting: a page runs
    assert done.wait(5.0)  # the page ended: it goes on
    waiter.join()
    assert warmup.wait_for_pages(0.01)  # nothing runs


def test_atlas_tiles_warmed_are_those_each_zoom_level_draws(dashboard_env, monkeypatch):
    from analysis.precompute import atlas_views
    from dashboard import atlas_map

    run, _ = dashboard_env
    sel = state.selection_of(run.name)
    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(atlas_map, "_thumb", lambda path, px: asked.append((path, px)))
    waits = []
    made = atlas_map.warm_thumbnails(sel, lambda: waits.append(1))
    warmed = set(asked)
    assert made == len(asked) == len(waits) > 0  # one wait before each tile

    asked.clear()
    cells = state.table(sel.cache, "atlas_cells")
    for level in atlas_views.levels(cells):  # what the page's whole-map views draw
        # (a version no page uses: built here, not found in Streamlit's cache)
        atlas_map._mosaic(str(sel.cache.root), -1.0, level, None, "class", True, sel, cells)
    assert set(asked) == warmed
