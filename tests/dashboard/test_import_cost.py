"""The dashboard's pages that only read the cache must not import PyTorch: torch and
torchvision's models take 3–7 s to import on a fresh server, which every first page paid
before (measured: `dashboard.state` alone imported in 4.0 s, 3.5 s of it torch and
torchvision through `analysis.train.runs`).

Each page runs under AppTest in a fresh interpreter on the analysed tiny run; the oracle is
``sys.modules`` afterwards (New image imports it when a photo is uploaded). Sample and
Reliability are not in the list: they label attribution methods through the method
registry, whose modules are torch code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCH_FREE = ("overview", "portrait", "errors", "compare", "atlas", "features", "new_image", "datasets", "curate")

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
at = AppTest.from_file(sys.argv[1], default_timeout=120).run()
print(json.dumps({"exception": [e.message for e in at.exception], "error": [e.value for e in at.error],
                  "torch": "torch" in sys.modules, "torchvision": "torchvision" in sys.modules,
                  "imported_from": first}))
"""


@pytest.mark.parametrize("page", TORCH_FREE)
def test_page_renders_without_importing_torch(page, analysed_run):
    run, cache, roots = analysed_run
    env = {**os.environ, **roots, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "dashboard" / "app_pages" / f"{page}.py")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["exception"] and not result["error"], result
    assert not result["torch"] and not result["torchvision"], (page, result["imported_from"][-4:])
