"""The dashboard's server process runs BLAS on one thread (``dashboard/process.py``), each
library limited once, including one loaded later; checked in a fresh interpreter (the
limit is process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_loaded_blas_gets_one_thread():
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from threadpoolctl import threadpool_info
        from dashboard import process
        first = process.single_threaded_blas()
        again = process.single_threaded_blas()
        import scipy.linalg  # loads scipy's own BLAS
        later = process.single_threaded_blas()
        threads = {{i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}}
        print(json.dumps({{"first": first, "again": again, "later": later, "threads": threads}}))
    """)
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout.strip().splitlines()[-1])
    assert any("numpy" in p for p in out["first"])  # numpy's BLAS, limited on the first call
    assert out["again"] == []  # each library once
    assert set(out["later"]) == set(out["threads"]) - set(out["first"])  # the one scipy brought
    assert out["threads"] and set(out["threads"].values()) == {1}
