"""The chunked store reads what was written, row for row, with numpy's indexing."""

import numpy as np
import pytest

from analysis.store.chunked import ShardedArray, inner_rows, write_whole

WANT = np.random.default_rng(0).normal(size=(37, 3, 4, 5)).astype(np.float16)
IDX = np.array([5, 3, 3, 36, 0])
LAB = np.array([0, 2, 1, 1, 0])


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("z") / "x.zarr"
    write_whole(path, WANT, shard_rows=8)
    return ShardedArray(path)


@pytest.mark.parametrize("key", [
    5, -1, slice(2, 9), slice(None, None, 3), slice(30, 100), slice(9, 2), IDX, (IDX, LAB), (IDX, 1),
    (slice(1, 5), 2), (3, LAB), WANT[:, 0, 0, 0] > 0, (IDX, slice(None), 2), (Ellipsis, 1),
    np.array([[1, 2], [3, 4]]), [7, 7, 1], np.array([-1, -37]), (), Ellipsis,
    np.random.default_rng(1).integers(0, 37, 25),  # unsorted, repeated, runs of chunks with gaps
    np.array([33, 8, 15, 16, 2]),  # chunks 0, 1, 2 (one run) and 4
], ids=repr)
def test_indexing_equals_numpy(stored, key):
    got, want = stored[key], WANT[key]
    assert isinstance(got, np.ndarray) and got.shape == want.shape and np.array_equal(got, want)


def test_whole_array_shape_and_dtype(stored):
    assert stored.shape == WANT.shape and stored.dtype == np.float16 and len(stored) == 37
    assert np.array_equal(np.asarray(stored), WANT)
    assert np.asarray(stored, dtype=np.float32).dtype == np.float32


def test_out_of_range_rows_raise(stored):
    with pytest.raises(IndexError):
        stored[37]
    with pytest.raises(IndexError):
        stored[np.array([0, 40])]
    with pytest.raises(IndexError):
        stored[np.ones(3, bool)]


def test_inner_chunks_divide_the_shard_and_stay_near_a_megabyte():
    assert inner_rows(1 << 10, 256) == 256  # small rows: the whole shard is one chunk
    assert inner_rows(31_360, 256) == 32  # EfficientNet-Lite0 activations (320×7×7 fp16)
    assert inner_rows(200_704, 256) == 4  # wideresnet18 activations (512×14×14 fp16)
    assert inner_rows(5 << 20, 256) == 1
    assert 96 % inner_rows(1 << 10, 96) == 0


def test_empty_and_tiny_arrays(tmp_path):
    write_whole(tmp_path / "e.zarr", np.zeros((0, 4), np.float32))
    e = ShardedArray(tmp_path / "e.zarr")
    assert e.shape == (0, 4) and np.asarray(e).shape == (0, 4) and e[IDX[:0]].shape == (0, 4)
    write_whole(tmp_path / "s.zarr", np.arange(3.0))
    assert np.array_equal(ShardedArray(tmp_path / "s.zarr")[[2, 0]], [2.0, 0.0])
