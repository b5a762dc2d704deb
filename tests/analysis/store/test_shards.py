"""Shards: written by any writer in any order, committed by their record, checked, redone."""

import numpy as np
import pandas as pd
import pytest

from analysis.store import RunCache, ShardError, ShardLayout

N, ROWS = 10, 4
MADE = {"model_fingerprint": "m1", "dataset_fingerprint": "d1"}


def layout():
    return ShardLayout(N, ROWS, {"features": ((N, 3), "float32"), "cams": ((N, 2, 2, 2), "float16")}, ("samples",))


def values(i):
    a, b = i * ROWS, min(N, (i + 1) * ROWS)
    rows = np.arange(a, b)
    return ({"features": np.repeat(rows[:, None], 3, 1).astype(np.float32),
             "cams": np.broadcast_to(rows[:, None, None, None], (b - a, 2, 2, 2)).astype(np.float16)},
            {"samples": pd.DataFrame({"row": rows, "id": [f"img{r}" for r in rows]})})


@pytest.fixture
def cache(tmp_path):
    c = RunCache(tmp_path / "run", {"schema": 2, **MADE})
    c.save_manifest()
    return c


def write_all(shards, order):
    for i in order:
        arrays, tables = values(i)
        shards.write(i, arrays, tables)


def test_shards_written_out_of_order_read_as_one_array_and_table_once_finished(cache):
    shards = cache.shard_set("forward", layout())
    shards.prepare()
    write_all(shards, [2, 0])
    assert shards.missing() == [1] and not cache.has("features") and not cache.has("samples")
    with pytest.raises(ShardError, match="1 of 3 shards are not written"):
        shards.finish()
    # another process (a Ray worker) finds the layout in the cache and writes the last shard
    write_all(cache.shard_set("forward"), [1])
    records = shards.finish()
    assert [r["rows"] for r in records] == [[0, 4], [4, 8], [8, 10]]
    assert cache.has("features") and np.array_equal(cache.features()[:, 0], np.arange(N))
    assert np.array_equal(cache.cams()[7], np.full((2, 2, 2), 7, np.float16))
    assert cache.samples()["id"].tolist() == [f"img{r}" for r in range(N)]
    assert cache.table_columns("samples", ["row"]).columns.tolist() == ["row"]


def test_a_rerun_keeps_finished_shards(cache):
    shards = cache.shard_set("forward", layout())
    shards.prepare()
    write_all(shards, [0, 1])
    again = cache.shard_set("forward", layout())
    again.prepare()  # same layout: nothing is thrown away
    assert again.missing() == [2]
    other = ShardLayout(N, 5, layout().arrays, ("samples",))
    fresh = cache.shard_set("forward", other)
    fresh.prepare()  # another shard size: start again
    assert fresh.missing() == [0, 1]


def test_truncated_or_corrupt_shards_are_found_and_only_they_are_redone(cache):
    shards = cache.shard_set("forward", layout())
    shards.prepare()
    write_all(shards, range(3))
    shards.finish()
    assert shards.damaged(full=True) == []
    f = shards.file_of("cams", 1)
    f.write_bytes(f.read_bytes()[:-7])  # truncated by hand
    p = shards.file_of("samples", 2)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    p.write_bytes(bytes(data))
    assert [i for i, _ in shards.damaged()] == [1]  # sizes: found without reading
    damaged = shards.damaged(full=True)
    assert [i for i, _ in damaged] == [1, 2] and "truncated" in damaged[0][1] and "corrupt" in damaged[1][1]
    shards.drop([1, 2])
    assert shards.missing() == [1, 2] and not cache.has("cams")
    write_all(shards, [1, 2])
    shards.finish()
    assert np.array_equal(cache.cams()[:, 0, 0, 0], np.arange(N)) and shards.damaged(full=True) == []


def test_a_shard_made_from_another_model_is_refused_in_one_line(cache):
    shards = cache.shard_set("forward", layout())
    shards.prepare()
    arrays, tables = values(0)
    with pytest.raises(ShardError, match=r"shard 0 \(images 0–3\).*another model version \(m2 ≠ m1\)"):
        shards.write(0, arrays, tables, made_from={"model_fingerprint": "m2"})
    write_all(shards, [1])
    rec = shards.record_path(1)
    rec.write_text(rec.read_text().replace('"d1"', '"d0"'))  # a record from another dataset version
    with pytest.raises(ShardError, match="another dataset version") as e:
        shards.missing()
    assert "\n" not in str(e.value)


def test_a_finished_table_is_also_one_file_which_a_changed_shard_retires(cache):
    from analysis.store.shards import WHOLE

    shards = cache.shard_set("forward", layout())
    shards.prepare()
    write_all(shards, [1, 2, 0])
    shards.finish()
    folder = cache.path("samples")
    whole = pd.read_parquet(folder / WHOLE)
    assert whole["row"].tolist() == list(range(N))  # row order, whatever the writing order
    pd.testing.assert_frame_equal(cache.samples(), whole)
    # it is what readers open: a changed copy shows (and the parts are not read)
    whole.assign(id="from-the-copy").to_parquet(folder / WHOLE, index=False)
    assert set(cache.samples()["id"]) == {"from-the-copy"}
    # a shard dropped or written again retires the copy; the parts are the truth
    shards.drop([1])
    assert not (folder / WHOLE).exists()
    write_all(shards, [1])
    shards.finish()
    assert cache.samples()["id"].tolist() == [f"img{r}" for r in range(N)]
    arrays, tables = values(0)
    shards.write(0, arrays, tables)
    assert not (folder / WHOLE).exists()


@pytest.mark.parametrize("group, sizes", [(5, [8, 2]), (4, [4, 4, 2]), (1000, [10])])
def test_the_one_file_gathers_shards_into_large_row_groups(cache, monkeypatch, group, sizes):
    """Shards of 4, 4 and 2 rows: parts are gathered until a group holds ``group`` rows."""
    import pyarrow.parquet as pq

    from analysis.store import shards as module

    monkeypatch.setattr(module, "WHOLE_ROW_GROUP", group)
    shards = cache.shard_set("forward", layout())
    shards.prepare()
    write_all(shards, [2, 0, 1])
    shards.finish()
    whole = pq.ParquetFile(cache.path("samples") / module.WHOLE)
    assert [whole.metadata.row_group(i).num_rows for i in range(whole.num_row_groups)] == sizes
    assert cache.samples()["id"].tolist() == [f"img{r}" for r in range(N)]
