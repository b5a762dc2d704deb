import shutil
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.classes import UnknownClassError
from analysis.data.dataset import Dataset, DatasetError
from analysis.data.importer import ImportOptions, import_folder

OPTS = ImportOptions(workers=1)


def bad_files(folder, make_photo):
    """One file of every bad kind, written into ``folder``."""
    make_photo(900, (160, 160)).save(folder / "full.jpg", quality=95)
    data = (folder / "full.jpg").read_bytes()
    (folder / "full.jpg").unlink()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "text.jpg").write_text("hello")
    make_photo(901, (30, 30)).save(folder / "tiny.png")
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    (folder / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                      + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))
    make_photo(902, (100, 100)).convert("CMYK").save(folder / "cmyk.jpg")
    deep = (np.asarray(make_photo(903, (90, 90)).convert("L"), np.uint16) * 257)
    Image.fromarray(deep).save(folder / "deep.png")


def test_import_skips_and_reports_bad_files_without_aborting(tmp_path, photo_tree, make_photo):
    src = photo_tree({"tokyo": 5, "paris": 4})
    bad_files(src / "tokyo", make_photo)
    ds = Dataset(tmp_path / "ds")
    report = import_folder(src, ds, options=OPTS, progress=False)
    reasons = dict((s.rsplit("/", 1)[-1], r) for s, r in report.rejected)
    assert set(reasons) == {"truncated.jpg", "text.jpg", "tiny.png", "bomb.png"}
    assert "truncated" in reasons["truncated.jpg"] and "not an image" in reasons["text.jpg"]
    assert "bomb" in reasons["bomb.png"] and "too small" in reasons["tiny.png"]
    df = ds.read()
    assert report.added == len(df) == 11  # 9 photos + CMYK + 16-bit
    assert set(df["class"]) == {"tokyo", "paris"}
    assert dict(zip(df["class"], df["group"])) == {"tokyo": "East", "paris": "West"}
    for rel in df["path"]:  # every stored file is a decodable RGB image
        with Image.open(ds.root / rel) as im:
            im.load()
            assert im.mode == "RGB"
    assert set(ds.read_rejects()["kind"]) == {"rejected"}
    assert df["phash"].str.len().eq(16).all() and df["sha256"].str.len().eq(64).all()


def test_reimport_is_idempotent_and_incremental(tmp_path, photo_tree):
    src = photo_tree({"tokyo": 6, "seoul": 6})
    ds = Dataset(tmp_path / "ds")
    import_folder(src, ds, options=OPTS, progress=False)
    first = ds.read()
    report = import_folder(src, ds, options=OPTS, progress=False)
    assert report.added == 0 and report.already_present == 12
    pd.testing.assert_frame_equal(ds.read(), first)
    photo_tree({"tokyo": 3}, root=src, start=500, prefix="new_")  # new files join
    shutil.copy(src / "tokyo" / "tokyo_000.jpg", src / "tokyo" / "copy_of_000.jpg")
    report = import_folder(src, ds, options=OPTS, progress=False)
    assert report.added == 3 and report.already_present == 12
    after = ds.read().set_index("id")
    assert (after.loc[first["id"], "split"].to_numpy() == first["split"].to_numpy()).all()
    assert [s.rsplit("/", 1)[-1] for s, _, _ in report.duplicates] == ["copy_of_000.jpg"]


def test_near_duplicates_keep_one_and_are_reported(tmp_path, photo_tree, make_photo):
    src = photo_tree({"kyoto": 4})
    big = make_photo(0).resize((192, 160), Image.BICUBIC)  # same picture as kyoto_000
    big.save(src / "kyoto" / "zz_resized.png")
    ds = Dataset(tmp_path / "ds")
    report = import_folder(src, ds, options=OPTS, progress=False)
    assert report.added == 4
    (source, kept, dist), = report.duplicates
    assert source.endswith("zz_resized.png") and dist < 6
    assert kept == ds.read().set_index("source").loc[str((src / "kyoto" / "kyoto_000.jpg").resolve()), "id"]
    assert ds.read_rejects()["kind"].tolist() == ["duplicate"]


def test_empty_class_folder_is_a_warning(tmp_path, photo_tree):
    src = photo_tree({"tokyo": 3})
    (src / "paris").mkdir()
    report = import_folder(src, Dataset(tmp_path / "ds"), options=OPTS, progress=False)
    assert any("'paris' is empty" in w for w in report.warnings)
    assert report.added == 3


def test_unknown_class_without_group_aborts_before_writing(tmp_path, photo_tree):
    src = photo_tree({"tokyo": 2, "osaka": 2})
    ds = Dataset(tmp_path / "ds")
    with pytest.raises(UnknownClassError, match="'osaka'"):
        import_folder(src, ds, options=OPTS, progress=False)
    assert not ds.root.exists()
    report = import_folder(src, ds, groups={"osaka": "East"}, options=OPTS, progress=False)
    assert report.added == 4
    assert (ds.root / "classes.toml").read_text().count('osaka = "East"') == 1


def test_not_a_folder_and_no_class_folders(tmp_path, make_photo):
    with pytest.raises(DatasetError, match="not a folder"):
        import_folder(tmp_path / "missing", Dataset(tmp_path / "ds"), progress=False)
    (tmp_path / "flat").mkdir()
    make_photo(1).save(tmp_path / "flat" / "a.jpg")
    with pytest.raises(DatasetError, match="no class folders"):
        import_folder(tmp_path / "flat", Dataset(tmp_path / "ds"), progress=False)


def test_group_pattern_keeps_capture_points_in_one_split(tmp_path, make_photo):
    src = tmp_path / "src"
    (src / "seoul").mkdir(parents=True)
    seed = 0
    for point in range(12):
        for heading in (0, 90, 180, 270):
            make_photo(seed).save(src / "seoul" / f"p{point}_heading_{heading}.jpg")
            seed += 1
    ds = Dataset(tmp_path / "ds")
    opts = ImportOptions(workers=1, group_pattern=r"(?P<group>.+)_heading_\d+")
    import_folder(src, ds, options=opts, progress=False)
    df = ds.read()
    df["point"] = df["source"].str.extract(r"(p\d+)_heading")[0]
    assert (df.groupby("point")["split"].nunique() == 1).all()
    assert df.groupby("point")["group_id"].nunique().eq(1).all()
    assert set(df["split"]) == {"train", "val", "test"}


def test_parallel_decoding_gives_the_same_table(tmp_path, photo_tree):
    src = photo_tree({"tokyo": 12, "nyc": 12})
    a, b = Dataset(tmp_path / "a"), Dataset(tmp_path / "b")
    import_folder(src, a, options=ImportOptions(workers=1), progress=False)
    import_folder(src, b, options=ImportOptions(workers=2), progress=False)
    cols = ["id", "path", "class", "split", "phash", "group_id"]
    pd.testing.assert_frame_equal(a.read()[cols], b.read()[cols])
