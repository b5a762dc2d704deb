import numpy as np

from analysis.store import StreamingArray, batched


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


def test_batched_covers_the_rows_once():
    assert list(batched(7, 3)) == [(0, 3), (3, 6), (6, 7)]
    assert list(batched(7, 3, start=4)) == [(4, 7)]
    assert list(batched(0, 3)) == []


def test_rows_written_in_batches_read_back_exactly_and_bad_rows_are_refused(tmp_path):
    import numpy as np
    import pytest

    rng = np.random.default_rng(0)
    want = rng.normal(size=(23, 4, 3, 2)).astype(np.float16)
    s = StreamingArray(tmp_path / "a.npy", want.shape, "float16", {"k": 1})
    for a, b in batched(23, 5):
        s.write(a, want[a:b].astype(np.float32))  # converted to the array's dtype
    with pytest.raises(ValueError, match="do not fit"):
        s.write(22, want[:2])
    s.finish()
    got = np.load(tmp_path / "a.npy")
    assert got.dtype == np.float16 and np.array_equal(got, want)
