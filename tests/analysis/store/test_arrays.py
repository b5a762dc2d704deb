import numpy as np
import pytest

from analysis.store import ShardedArray, StreamingArray, batched


def test_streaming_array_resumes_at_the_first_unfinished_shard_and_appears_only_when_complete(tmp_path):
    target = tmp_path / "a.zarr"
    s = StreamingArray(target, (10, 3), "float16", {"k": 1}, shard_rows=4)
    s.write(0, np.ones((3, 3)))
    s.write(3, np.ones((3, 3)))  # rows 0-5: shard 0 (rows 0-3) is complete, shard 1 is not
    assert not target.exists()  # a reader never sees a half-written array
    del s
    again = StreamingArray(target, (10, 3), "float16", {"k": 1}, shard_rows=4)
    assert again.start == 4  # resumed after the finished shard; rows 4-5 are written again
    again.write(4, np.full((6, 3), 2.0))
    again.finish()
    arr = np.asarray(ShardedArray(target))
    assert arr.dtype == np.float16 and arr[:4].sum() == 12 and arr[4:].sum() == 36
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.progress.json"))


def test_streaming_array_discards_a_partial_of_other_parameters(tmp_path):
    s = StreamingArray(tmp_path / "a.zarr", (5,), "float32", {"model": "A"}, shard_rows=2)
    s.write(0, np.arange(3.0))
    del s
    assert StreamingArray(tmp_path / "a.zarr", (5,), "float32", {"model": "A"}, shard_rows=2).start == 2
    assert StreamingArray(tmp_path / "a.zarr", (5,), "float32", {"model": "B"}, shard_rows=2).start == 0
    assert StreamingArray(tmp_path / "a.zarr", (6,), "float32", {"model": "B"}, shard_rows=2).start == 0


def test_batched_covers_the_rows_once():
    assert list(batched(7, 3)) == [(0, 3), (3, 6), (6, 7)]
    assert list(batched(7, 3, start=4)) == [(4, 7)]
    assert list(batched(0, 3)) == []


def test_rows_written_in_batches_read_back_exactly_and_bad_rows_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    want = rng.normal(size=(23, 4, 3, 2)).astype(np.float16)
    s = StreamingArray(tmp_path / "a.zarr", want.shape, "float16", {"k": 1}, shard_rows=8)
    for a, b in batched(23, 5):
        s.write(a, want[a:b].astype(np.float32))  # converted to the array's dtype
    with pytest.raises(ValueError, match="do not fit"):
        s.write(22, want[:2])
    s.finish()
    got = np.asarray(ShardedArray(tmp_path / "a.zarr"))
    assert got.dtype == np.float16 and np.array_equal(got, want)


def test_rows_must_come_in_order_and_all_of_them(tmp_path):
    s = StreamingArray(tmp_path / "a.zarr", (6, 2), "float32", {"k": 1}, shard_rows=4)
    with pytest.raises(ValueError, match="in order"):
        s.write(2, np.zeros((2, 2)))
    s.write(0, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="only 5 of 6"):
        s.finish()
