from PIL import Image

from analysis.data.dataset import Dataset, fingerprint
from analysis.data.importer import ImportOptions, import_folder
from analysis.data.sheet import write_sheets
from analysis.data.summary import summarize


def test_summary_counts_and_sheets(tmp_path, photo_tree, make_photo):
    src = photo_tree({"tokyo": 7, "london_uk": 5})
    (src / "tokyo" / "broken.jpg").write_text("nope")
    ds = Dataset(tmp_path / "ds")
    import_folder(src, ds, options=ImportOptions(workers=1), progress=False)
    s = summarize(ds)
    assert s.n_images == 12 and s.n_rejected == 1 and s.n_duplicates == 0
    assert s.counts.loc["tokyo", "total"] == 7 and s.counts.loc["london_uk", "group"] == "West"
    assert s.counts.loc["all", "total"] == 12
    assert s.counts.loc["all", ["train", "val", "test"]].sum() == 12
    assert "london_uk" in s.text() and s.curated == {"unreviewed": 12}
    paths = write_sheets(ds, tmp_path / "sheets", per_class=6, thumb=64, columns=3)
    assert sorted(p.name for p in paths) == ["london_uk.png", "tokyo.png"]
    with Image.open(paths[1]) as im:
        assert im.size == (3 * 64, 28 + 2 * (64 + 14))


def test_fingerprint_changes_with_labels_and_splits(tmp_path, photo_tree):
    ds = Dataset(tmp_path / "ds")
    import_folder(photo_tree({"tokyo": 4, "paris": 4}), ds, options=ImportOptions(workers=1),
                  progress=False)
    df = ds.read()
    fp = fingerprint(df)
    assert fp == fingerprint(df.sample(frac=1, random_state=0))
    moved = df.copy()
    moved.loc[0, "split"] = "test" if moved.loc[0, "split"] != "test" else "train"
    assert fingerprint(moved) != fp


def test_usable_fingerprint_is_remembered_for_one_state_of_the_table(tmp_path, photo_tree, monkeypatch):
    from analysis.data import dataset as module

    ds = Dataset(tmp_path / "ds")
    import_folder(photo_tree({"tokyo": 4, "paris": 4}), ds, options=ImportOptions(workers=1),
                  progress=False)
    want = fingerprint(ds.usable())
    assert ds.usable_fingerprint() == want and ds.files.fingerprint_memo.is_file()
    calls = []
    monkeypatch.setattr(module, "fingerprint", lambda df: calls.append(len(df)) or "recomputed")
    assert ds.usable_fingerprint() == want and calls == []  # read from the memo
    # a write (a curation rejecting one image) makes a new table: computed again
    df = ds.read()
    df.loc[0, "curated"] = "rejected"
    ds.write(df)
    assert ds.usable_fingerprint() == "recomputed" and calls == [7]
    monkeypatch.undo()
    assert ds.usable_fingerprint() == "recomputed"  # remembered for this state …
    ds.files.fingerprint_memo.write_text("{not json")  # … unless the memo is damaged
    assert ds.usable_fingerprint() == fingerprint(ds.usable()) != want


def test_count_table_and_class_samples_by_hand(tmp_path):
    """The Datasets page's numbers: counts per class × split (the same as plain pandas
    counting), and per class a seeded sample of its own images, read by position."""
    import numpy as np
    import pandas as pd

    from analysis.data.summary import class_samples, count_table

    ds = Dataset(tmp_path / "ds")
    rng = np.random.default_rng(3)
    classes = np.array(["tokyo", "paris", "kyoto"])[rng.integers(0, 3, 40)]
    df = pd.DataFrame({"id": [f"i{k}" for k in range(40)], "path": [f"{c}/{k}.jpg" for k, c in enumerate(classes)],
                       "class": classes, "group": np.where(classes == "paris", "West", "East"),
                       "split": np.array(["train", "val", "test"])[rng.integers(0, 3, 40)], "width": 64, "height": 48})
    ds.write(df)
    table = ds.read(["class", "group", "split"])
    counts = count_table(table)
    for cls in ("tokyo", "paris", "kyoto"):
        for split in ("train", "val", "test"):
            assert counts.loc[cls, split] == int(((df["class"] == cls) & (df["split"] == split)).sum())
        assert counts.loc[cls, "total"] == int((df["class"] == cls).sum())
    assert counts.loc["all", "total"] == 40 and counts.loc["paris", "group"] == "West"

    assert ds.paths_at([5, 0, 5]) == [df["path"][5], df["path"][0], df["path"][5]]
    assert ds.values_at("width", [3]) == [64]
    assert ds.values_at("path", ids=["i7", "nope", "i0"]) == [df["path"][7], None, df["path"][0]]
    got = class_samples(ds, table, per_class=4)
    assert [g[0] for g in got] == ["kyoto", "paris", "tokyo"]
    for cls, group, n, paths in got:
        assert n == int((df["class"] == cls).sum()) and group == df.loc[df["class"] == cls, "group"].iat[0]
        assert len(paths) == min(4, n) == len(set(paths)) and all(p.startswith(cls + "/") for p in paths)
    assert class_samples(ds, table, per_class=4) == got  # seeded


def test_count_table_equals_pandas_crosstab():
    """The bincount equals what pandas' crosstab (the earlier code) gives."""
    import numpy as np
    import pandas as pd

    from analysis.data.dataset import SPLITS
    from analysis.data.summary import count_table

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"class": np.array(["b", "a", "c"])[rng.integers(0, 3, 500)],
                       "split": np.array(list(SPLITS))[rng.integers(0, 3, 500)]})
    df["group"] = np.where(df["class"] == "a", "West", "East")
    expected = pd.crosstab(df["class"], df["split"]).reindex(columns=list(SPLITS), fill_value=0)
    expected["total"] = expected.sum(axis=1)
    expected.insert(0, "group", df.groupby("class")["group"].first().reindex(expected.index))
    expected.loc["all"] = ["", *expected[list(SPLITS) + ["total"]].sum().tolist()]
    pd.testing.assert_frame_equal(count_table(df), expected, check_dtype=False)


def test_values_at_reads_only_the_row_groups_of_the_positions(tmp_path, monkeypatch):
    """The table is written in row groups of ``TABLE_ROW_GROUP`` rows; values by position come
    from just the groups that hold them, in the asked order, equal to pandas' ``iloc``."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    import pytest

    from analysis.data import dataset as dataset_mod
    from analysis.data.dataset import Dataset

    monkeypatch.setattr(dataset_mod, "TABLE_ROW_GROUP", 10)
    ds = Dataset(tmp_path / "d")
    df = pd.DataFrame({"id": [f"i{k}" for k in range(45)], "path": [f"c/{k}.jpg" for k in range(45)],
                       "class": "c", "group": "East", "split": "train", "width": np.arange(45), "height": 48})
    ds.write(df)
    assert pq.ParquetFile(ds.table_path).metadata.num_row_groups == 5  # 10+10+10+10+5

    read = []
    real = pq.ParquetFile.read_row_groups
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups",
                        lambda self, groups, **kw: read.append(list(groups)) or real(self, groups, **kw))
    pos = [44, 3, 27, 3, 21, 40]
    assert ds.values_at("width", pos) == df["width"].iloc[pos].tolist()
    assert ds.paths_at(pos) == df["path"].iloc[pos].tolist()
    assert read[0] == [0, 2, 4]  # positions 3 | 21, 27 | 40, 44: groups 0, 2 and 4, not 1 and 3
    assert ds.values_at("width", []) == []
    with pytest.raises(IndexError):
        ds.values_at("width", [45])
