import json

import numpy as np
import pandas as pd
import pytest

from analysis.store import ARTEFACTS, SCHEMA_VERSION, CacheError, RunCache, ShardedArray, declare


def test_cache_round_trip_and_problems(tmp_path):
    cache = RunCache(tmp_path / "run1")
    assert cache.problems() and "streetlens analyze run1" in cache.problems()[0]
    cache.manifest = {"schema": SCHEMA_VERSION, "model_fingerprint": "m1", "dataset_fingerprint": "d1"}
    cache.save_manifest()
    cache.write_array("features", np.arange(6, dtype=np.float32).reshape(2, 3))
    cache.write_table("samples", pd.DataFrame({"a": [1, 2]}))
    cache.mark_stage("forward", 1.234, images=2)
    again = RunCache(tmp_path / "run1")
    assert again.stage_done("forward") and not again.stage_done("map")
    assert isinstance(again.features(), ShardedArray) and again.features()[1, 2] == 5  # read lazily
    assert again.samples()["a"].tolist() == [1, 2]
    assert again.problems("m1", "d1") == []
    assert any("model changed" in p for p in again.problems("m2", "d1"))
    assert any("dataset changed" in p for p in again.problems("m1", "d2"))
    manifest = json.loads(again.manifest_path.read_text())
    manifest["schema"] = SCHEMA_VERSION + 1
    again.manifest_path.write_text(json.dumps(manifest))
    assert any("schema" in p for p in RunCache(tmp_path / "run1").problems())
    with pytest.raises(CacheError, match="missing.*streetlens analyze run1"):
        again.cams()


def test_artefacts_are_asked_for_by_name_and_kind(tmp_path):
    cache = RunCache(tmp_path / "r")
    file_name = ARTEFACTS["cams"].file
    with pytest.raises(KeyError, match=f"no artefact '{file_name}'"):
        cache.path(file_name)  # a file name is not an artefact name
    with pytest.raises(TypeError, match="'samples' is a table, not a array"):
        cache.array("samples")
    assert cache.mtime("cams") == 0.0 and not cache.has("cams")
    cache.write_array("cams", np.zeros((1, 2, 3, 3), np.float16))
    assert cache.has("cams") and cache.mtime("cams") > 0
    cache.remove("cams")
    assert not cache.has("cams")


def test_concept_basis_and_per_item_files(tmp_path):
    cache = RunCache(tmp_path / "r")
    assert not cache.has("concept_basis")
    with pytest.raises(FileNotFoundError, match="concepts stage"):
        cache.read_concept_basis()
    comps = np.abs(np.random.default_rng(0).normal(size=(3, 5))).astype(np.float32)
    cache.write_concept_basis(comps, {"n_concepts": 3})
    got, info = cache.read_concept_basis()
    np.testing.assert_array_equal(got, comps)
    assert info == {"n_concepts": 3} and cache.has("concept_basis")
    patch = cache.patch_path(2, 7)
    patch.parent.mkdir(parents=True)
    patch.write_bytes(b"png")
    assert cache.resolve(cache.relative(patch)) == patch
    cache.remove("concept_basis")  # the basis goes, the patch pictures have their own artefact
    assert not cache.has("concept_basis") and patch.is_file()
    cache.remove("concept_patch_images")
    assert not patch.exists()
    assert cache.featvis_path("concept", 3) != cache.featvis_path("channel", 3)
    with pytest.raises(ValueError, match="concept.*channel"):
        cache.featvis_path("unit", 1)
    assert cache.ondemand_path("ig", "a/b", "city", 2).parent.name == "ig"
    with pytest.raises(ValueError, match="head"):
        cache.ondemand_path("ig", "x", "town", 0)


def test_declared_artefacts_follow_the_naming_rule():
    try:
        a = declare("test_only_table", "table", "a table a new stage writes")
        assert a.file.endswith(".parquet") and ARTEFACTS["test_only_table"] is a
        assert declare("test_only_table", "table", "again") is a
        with pytest.raises(ValueError, match="already a table"):
            declare("test_only_table", "array", "clash")
        with pytest.raises(ValueError, match="kind must be"):
            declare("test_only_other", "blob", "?")
    finally:
        ARTEFACTS.pop("test_only_table", None)


def test_a_cache_describes_the_artefacts_its_stages_declared(tmp_path):
    """A reader that never imported the stage module (the dashboard) still finds a declared
    artefact: the manifest records its file and kind; an undeclared name is simply absent."""
    cache = RunCache(tmp_path / "r")
    assert not cache.has("test_only_means")
    try:
        declare("test_only_means", "array", "a new stage's array")
        cache.write_array("test_only_means", np.arange(3.0))
        cache.record_artefacts(["test_only_means"])
    finally:
        ARTEFACTS.pop("test_only_means", None)  # as in a process that never imported it
    reader = RunCache(tmp_path / "r")
    assert reader.has("test_only_means") and reader.array("test_only_means")[:].tolist() == [0.0, 1.0, 2.0]
    assert reader.mtime("nothing_like_this") == 0.0 and not reader.has("nothing_like_this")
    with pytest.raises(KeyError, match="no artefact 'nothing_like_this'"):
        reader.array("nothing_like_this")


def test_categorical_columns_read_from_dictionaries_equal_astype_category(tmp_path):
    """``read_parquet(categorical=…)``: the same frame as reading plainly and converting with
    ``astype(str).astype("category")`` (sorted categories), for one file, for a folder of
    parts, and for a folder with its one-file copy."""
    from analysis.store.cache import read_parquet
    from analysis.store.shards import WHOLE

    rng = np.random.default_rng(0)
    cities = np.array(["tokyo", "paris", "kyoto", "amsterdam"])
    df = pd.DataFrame({"row": np.arange(40), "class": cities[rng.integers(0, 4, 40)],
                       "split": np.array(["train", "val", "test"])[rng.integers(0, 3, 40)],
                       "p": rng.random(40)})

    def expected(frame, cols=("class", "split")):
        out = frame.copy()
        for c in cols:
            out[c] = out[c].astype(str).astype("category")
        return out.reset_index(drop=True)

    one = tmp_path / "one.parquet"
    df.to_parquet(one, index=False)
    parts = tmp_path / "parts.parquet"
    parts.mkdir()
    df.iloc[20:].to_parquet(parts / "part-000001.parquet", index=False)  # rows out of order on disk
    df.iloc[:20].to_parquet(parts / "part-000000.parquet", index=False)
    for path in (one, parts):
        got = read_parquet(path, categorical=("class", "split", "absent"))
        pd.testing.assert_frame_equal(got, expected(df))
        assert list(got["class"].cat.categories) == sorted(set(df["class"]))
    df.to_parquet(parts / WHOLE, index=False)
    pd.testing.assert_frame_equal(read_parquet(parts, ["row", "class"], categorical=("class", "split")),
                                  expected(df[["row", "class"]], ("class",)))
    pd.testing.assert_frame_equal(read_parquet(one, ["p"], categorical=("class",)), df[["p"]])
