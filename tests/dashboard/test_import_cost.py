"""The dashboard's pages that only read the cache must not import PyTorch: torch and
torchvision's models take 3–7 s to import on a fresh server, which every first page paid
before (measured: `dashboard.state` alone imported in 4.0 s, 3.5 s of it torch and
torchvision through `analysis.train.runs`).

Each page runs under AppTest in a fresh interpreter on the analysed tiny run; the oracle is
``sys.modules`` afterwards (New image imports it when a photo is uploaded, Sample when a
pixel-level map is computed on demand). Sample and Reliability list and label attribution
methods from their cards (``analysis.explain.method_cards``), not from the method classes,
which are torch code; they run once more with what they show once it is computed (a stored
on-demand map, the reliability checks' tables), which is read, not computed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCH_FREE = ("overview", "sample", "portrait", "errors", "compare", "atlas", "features", "new_image",
              "datasets", "curate", "reliability")

PROBE = """
import json, sys, traceback
first = []  # where torch was first imported from, for the failure message

class Watch:
    def find_spec(self, name, path, target=None):
        if name == "torch" and not first:
            first.extend(f"{f.filename}:{f.lineno}" for f in traceback.extract_stack()
                         if "/analysis/" in f.filename or "/dashboard/" in f.filename)
        return None

sys.meta_path.insert(0, Watch())
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
for key_value in sys.argv[2:]:  # URL parameters, key=value
    key, value = key_value.split("=", 1)
    at.query_params[key] = value
at.run()
print(json.dumps({"exception": [e.message for e in at.exception], "error": [e.value for e in at.error],
                  "torch": "torch" in sys.modules, "torchvision": "torchvision" in sys.modules,
                  "imported_from": first,
                  "text": [m.value for m in at.markdown] + [c.value for c in at.caption]}))
"""


def probe(page: str, roots: dict, **params: str) -> dict:
    """The page run once in a fresh interpreter with these URL parameters; no exception,
    no error."""
    env = {**os.environ, **roots, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "dashboard" / "app_pages" / f"{page}.py"),
                           *(f"{k}={v}" for k, v in params.items())],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["exception"] and not result["error"], result
    return result


@pytest.mark.parametrize("page", TORCH_FREE)
def test_page_renders_without_importing_torch(page, analysed_run):
    result = probe(page, analysed_run[2])
    assert not result["torch"] and not result["torchvision"], (page, result["imported_from"][-4:])


def test_stored_maps_and_checks_render_without_importing_torch(analysed_run, tmp_path):
    """What the two pages read once it is computed: a pixel-level map computed earlier on
    the Sample page (shown from the cache), the reliability checks' tables and verdicts."""
    from analysis.explain.ondemand import save_map
    from analysis.precompute import AnalyzeConfig, analyze
    from analysis.store import RunCache

    run, cache, roots = analysed_run
    root = tmp_path / "cache"
    shutil.copytree(cache.root, root / run.name)
    copy = RunCache(root / run.name)
    config = AnalyzeConfig(stages=("forward", "reliability"), reliability_images=3, reliability_ig_images=1,
                           reliability_ig_steps=2, reliability_steps=4, reliability_random_orders=1,
                           reliability_modes="cascade")
    analyze(run.path, config=config, cache_root=root, progress=False, log=lambda *_: None)
    image_id = copy.table("samples")["id"].iloc[0]
    for method in ("guided_backprop", "integrated_gradients"):  # shown as magnitude, as signed
        for k in range(len(run.labels.classes)):
            save_map(copy.ondemand_path(method, image_id, "city", k),
                     np.random.default_rng(k).normal(size=(40, 40)).astype(np.float32))
    roots = {**roots, "STREETLENS_CACHE": str(root)}
    stored = "Read from the cache (computed earlier)."
    for page, params, shown in (("sample", {"id": image_id}, stored),
                                ("sample", {"id": image_id, "method": "integrated_gradients"}, stored),
                                ("reliability", {}, "for a random order")):
        result = probe(page, roots, run=run.name, **params)
        assert any(shown in t for t in result["text"]), (page, params, result["text"])
        assert not result["torch"] and not result["torchvision"], (page, params, result["imported_from"][-4:])
