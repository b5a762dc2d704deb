import json

import numpy as np
import pandas as pd
import pytest

from analysis.store import SCHEMA_VERSION, AnalysisCache, CacheError, StreamingArray


def test_streaming_array_resumes_and_appears_only_when_complete(tmp_path):
    target = tmp_path / "a.npy"
    s = StreamingArray(target, (10, 3), "float16", {"k": 1})
    s.write(0, np.ones((4, 3)))
    assert not target.exists()  # a reader never sees a half-written array
    del s
    again = StreamingArray(target, (10, 3), "float16", {"k": 1})
    assert again.start == 4  # resumed
    again.write(4, np.full((6, 3), 2.0))
    again.finish()
    arr = np.load(target)
    assert arr.dtype == np.float16 and arr[:4].sum() == 12 and arr[4:].sum() == 36
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.progress.json"))


def test_streaming_array_discards_a_partial_of_other_parameters(tmp_path):
    s = StreamingArray(tmp_path / "a.npy", (5,), "float32", {"model": "A"})
    s.write(0, np.arange(3.0))
    del s
    assert StreamingArray(tmp_path / "a.npy", (5,), "float32", {"model": "B"}).start == 0
    assert StreamingArray(tmp_path / "a.npy", (6,), "float32", {"model": "B"}).start == 0


def test_cache_round_trip_and_problems(tmp_path):
    cache = AnalysisCache(tmp_path / "run1")
    assert cache.problems() and "streetlens analyze run1" in cache.problems()[0]
    cache.manifest = {"schema": SCHEMA_VERSION, "model_fingerprint": "m1", "dataset_fingerprint": "d1"}
    cache.save_manifest()
    cache.write_array("x.npy", np.arange(6).reshape(2, 3))
    cache.write_table("t.parquet", pd.DataFrame({"a": [1, 2]}))
    cache.mark_stage("forward", 1.234, images=2)
    again = AnalysisCache(tmp_path / "run1")
    assert again.stage_done("forward") and not again.stage_done("map")
    assert isinstance(again.array("x.npy"), np.memmap) and again.array("x.npy")[1, 2] == 5
    assert again.table("t.parquet")["a"].tolist() == [1, 2]
    assert again.problems("m1", "d1") == []
    assert any("model changed" in p for p in again.problems("m2", "d1"))
    assert any("dataset changed" in p for p in again.problems("m1", "d2"))
    manifest = json.loads((tmp_path / "run1" / "manifest.json").read_text())
    manifest["schema"] = SCHEMA_VERSION + 1
    (tmp_path / "run1" / "manifest.json").write_text(json.dumps(manifest))
    assert any("schema" in p for p in AnalysisCache(tmp_path / "run1").problems())
    with pytest.raises(CacheError, match="missing"):
        again.array("nope.npy")
