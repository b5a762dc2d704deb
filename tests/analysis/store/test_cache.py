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


def test_table_rows_read_only_the_parts_that_hold_them(tmp_path):
    """``RunCache.table_rows``: the records of some rows, in the order asked (repeats kept),
    equal to taking them from the whole table; from the parts that hold them (a part that is
    not read may even be unreadable), and from the whole table when the table is one file."""
    from analysis.store.shards import part_name
    from analysis.store.tables import read_parquet_rows

    df = pd.DataFrame({"row": np.arange(50), "id": [f"im{i}" for i in range(50)],
                       "path": [f"c/{i}.jpg" for i in range(50)], "p": np.linspace(0, 1, 50)})
    cache = RunCache(tmp_path / "run")
    cache.manifest = {"schema": SCHEMA_VERSION, "shard_rows": 20}
    cache.save_manifest()
    folder = cache.path("samples")
    folder.mkdir(parents=True)
    for i in (2, 0, 1):  # written out of order
        df.iloc[20 * i:20 * (i + 1)].to_parquet(folder / part_name(i), index=False)
    want = [41, 3, 19, 3]
    expected = df.iloc[want].reset_index(drop=True)
    pd.testing.assert_frame_equal(cache.table_rows("samples", want), expected)
    pd.testing.assert_frame_equal(cache.table_rows("samples", want, ["path"]), expected[["row", "path"]])
    (folder / part_name(1)).write_bytes(b"not parquet")  # rows 20-39: not asked for, never read
    pd.testing.assert_frame_equal(cache.table_rows("samples", want, ["id"]), expected[["row", "id"]])
    assert cache.table_rows("samples", [], ["id"]).columns.tolist() == ["row", "id"]
    assert read_parquet_rows(folder, [60], 20, ["id"]) is None  # no such part: the caller reads whole
    assert read_parquet_rows(folder, [5], 25, ["id"]) is not None  # part 0 under another layout …
    assert read_parquet_rows(folder, [22], 25, ["id"]) is None  # … does not hold row 22: refused

    one = RunCache(tmp_path / "one")
    one.write_table("samples", df)
    pd.testing.assert_frame_equal(one.table_rows("samples", want, ["path"]), expected[["row", "path"]])


def test_manifest_read_on_first_use_and_a_damaged_one_is_one_clear_error(tmp_path):
    cache = RunCache(tmp_path / "run")
    cache.manifest = {"schema": SCHEMA_VERSION, "n_images": 3}
    cache.save_manifest()
    assert RunCache(tmp_path / "run").manifest["n_images"] == 3
    cache.manifest_path.write_text('{"schema": 1, "stages": {"forw')  # cut short
    damaged = RunCache(tmp_path / "run")  # opening it reads nothing yet
    assert damaged.manifest_path.is_file() and damaged.exists()
    with pytest.raises(CacheError, match=r"manifest .* is unreadable .*delete it and run `streetlens analyze run`"):
        damaged.stage_done("forward")
