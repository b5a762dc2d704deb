"""The runner trusts a cached per-image stage only while its shards are intact: a truncated
or corrupt shard is found and only it is computed again; a foreign one is refused; two
analyses of one cache never write at once; a bad Ray address is one line within seconds."""

import time

import numpy as np
import pytest
from click.testing import CliRunner

from analysis.cli import main as cli
from analysis.precompute import AnalyzeConfig, analyze
from analysis.precompute.engines.forward_work import ForwardWorker
from analysis.store import CacheError, RunCache, ShardError

CONFIG = AnalyzeConfig(batch_size=8, stages=("forward", "channels"), shard_rows=8)


def quiet(*_):
    pass


@pytest.fixture
def analysed(tiny_run, tmp_path):
    return analyze(tiny_run.path, config=CONFIG, cache_root=tmp_path, progress=False, log=quiet)


def snapshot(cache):
    return {name: cache.array(name)[:] for name in ("cams", "activations", "class_probs")}, cache.samples()


def test_a_truncated_shard_is_found_and_only_it_is_computed_again(tiny_run, analysed, tmp_path, monkeypatch):
    arrays, samples = snapshot(analysed)
    f = analysed.shard_set("forward").file_of("activations", 4)
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncated by hand
    written, messages = [], []
    real = ForwardWorker.commit  # the local engine's writing step
    monkeypatch.setattr(ForwardWorker, "commit", lambda w, i, c, t: written.append(i) or real(w, i, c, t))
    again = analyze(tiny_run.path, config=CONFIG, cache_root=tmp_path, progress=False, log=messages.append)
    assert written == [4]
    assert any("shard 4 (images 32–39) is damaged" in m and "truncated" in m for m in messages)
    assert "channels   cached" in messages  # what was computed from it stays: its values come back the same
    got_arrays, got_samples = snapshot(again)
    assert all(np.array_equal(got_arrays[k], arrays[k]) for k in arrays) and got_samples.equals(samples)


def test_a_corrupt_shard_is_found_by_verify(tiny_run, analysed, tmp_path):
    f = analysed.shard_set("forward").file_of("cams", 2)
    data = bytearray(f.read_bytes())
    data[-20] ^= 0x55  # same size, one byte changed
    f.write_bytes(bytes(data))
    messages = []
    analyze(tiny_run.path, config=CONFIG, cache_root=tmp_path, progress=False, log=messages.append)
    assert "forward    cached" in messages  # sizes match: only a full check sees it
    from dataclasses import replace

    again = analyze(tiny_run.path, config=replace(CONFIG, verify=True), cache_root=tmp_path, progress=False,
                    log=messages.append)
    assert any("shard 2 (images 16–23)" in m and "corrupt" in m for m in messages)
    assert again.shard_set("forward").damaged(full=True) == []


def test_a_shard_from_another_model_is_refused_in_one_line(tiny_run, analysed, tmp_path):
    record = analysed.shard_set("forward").record_path(1)
    record.write_text(record.read_text().replace(analysed.manifest["model_fingerprint"], "0123456789abcdef"))
    with pytest.raises(ShardError, match=r"shard 1 \(images 8–15\).*another model version") as e:
        analyze(tiny_run.path, config=CONFIG, cache_root=tmp_path, progress=False, log=quiet)
    assert "\n" not in str(e.value)


def test_a_second_analysis_of_the_same_cache_is_refused(tiny_run, analysed, tmp_path):
    with RunCache(analysed.root).writing():  # the first one is still running
        with pytest.raises(CacheError, match="another analysis is writing"):
            analyze(tiny_run.path, config=CONFIG, cache_root=tmp_path, progress=False, log=quiet)
    analyze(tiny_run.path, config=CONFIG, cache_root=tmp_path, progress=False, log=quiet)  # free again


def test_a_ray_address_nobody_answers_is_one_line_within_seconds(tiny_run, tmp_path):
    t0 = time.perf_counter()
    result = CliRunner().invoke(cli, ["analyze", str(tiny_run.path), "--engine", "ray", "--address",
                                      "127.0.0.1:9", "--cache-root", str(tmp_path), "--stages", "forward"])
    assert result.exit_code != 0 and time.perf_counter() - t0 < 15
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no Ray cluster answers at 127.0.0.1:9" in lines[0], result.output
