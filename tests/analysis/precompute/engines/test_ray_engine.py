"""The Ray engine on a two-node cluster on this machine (every node on 127.0.0.1): the same
shards as the local engine, bit for bit; a worker killed and a node removed mid-run cost
only their unfinished shards; a rerun after the job dies resumes."""

import threading
import time

import numpy as np
import pandas as pd
import psutil
import pytest

ray = pytest.importorskip("ray")  # the `ray` extra; `make test` installs it (dev extra)
from ray.cluster_utils import Cluster  # noqa: E402

from analysis.cluster import stay_on_loopback  # noqa: E402
from analysis.precompute import AnalyzeConfig, analyze  # noqa: E402
from analysis.store import RunCache  # noqa: E402

ARRAYS = ("class_logits", "group_logits", "class_probs", "features", "activations", "cams", "gradients",
          "channel_attr")
NODE = {"node_ip_address": "127.0.0.1", "include_dashboard": False, "object_store_memory": 100 * 2**20}


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node, both on loopback; the test process is the driver."""
    stay_on_loopback()
    c = Cluster(initialize_head=True, head_node_args={**NODE, "num_cpus": 2})
    worker = c.add_node(**NODE, num_cpus=2)
    ray.init(address=c.address, _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
    yield c, worker
    ray.shutdown()
    c.shutdown()


def config(**kw):
    return AnalyzeConfig(batch_size=2, stages=("forward",), shard_rows=4, **kw)


@pytest.fixture(scope="module")
def local_reference(tiny_run, tmp_path_factory):
    """The local engine's shards, computed with as many torch threads as each model actor
    gets (two CPUs a node, two actors: two threads each) — the same arithmetic, so the same
    bits (other thread counts split sums differently: differences of one float16 ulp)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return analyze(tiny_run.path, config=config(), cache_root=tmp_path_factory.mktemp("local"),
                       progress=False, log=quiet)
    finally:
        torch.set_num_threads(threads)


def assert_same(cache, reference):
    for name in ARRAYS:
        a, b = cache.array(name)[:], reference.array(name)[:]
        assert a.dtype == b.dtype and np.array_equal(a, b), f"{name} differs: max {np.abs(a - b).max()}"
    pd.testing.assert_frame_equal(cache.samples(), reference.samples())


@pytest.mark.parametrize("decode", ["auto", "tasks"])
def test_ray_engine_writes_the_local_engines_shards_bit_for_bit(cluster, tiny_run, local_reference, tmp_path,
                                                                  decode):
    """Both pipelines: on this GPU-less cluster "auto" decodes in the model actors; "tasks" is
    what a cluster with GPUs runs (decoding tasks, pixels through the object store)."""
    cache = analyze(tiny_run.path, config=config(engine="ray", ray_actors=2, extra={"ray_decode": decode}),
                    cache_root=tmp_path, progress=False, log=quiet)
    assert_same(cache, local_reference)
    record = cache.stage_record("forward")
    assert record["engine"] == "ray" and record["shards"]["count"] == 18
    assert cache.shard_set("forward").damaged(full=True) == []
    roles = {w.split(" ")[0] for w in record["worker_peak_mb"]}
    assert roles == ({"model", "decode"} if decode == "tasks" else {"model"})


def test_plan_resources_decodes_in_the_actors_without_gpus():
    from analysis.precompute.engines.ray_engine import plan_resources

    class FakeRay:
        def __init__(self, **resources):
            self.resources = resources

        def cluster_resources(self):
            return self.resources

    cpu = plan_resources(FakeRay(CPU=8.0), None)
    assert cpu == {"actors": 4, "num_gpus": 0, "num_cpus": 2, "threads": 2, "decode_cpus": 0,
                   "decode_in_actors": True}
    assert plan_resources(FakeRay(CPU=8.0), None, "tasks")["decode_in_actors"] is False
    gpu = plan_resources(FakeRay(CPU=16.0, GPU=2.0), None)
    assert gpu["actors"] == 2 and gpu["num_gpus"] == 1 and gpu["decode_in_actors"] is False
    assert plan_resources(FakeRay(CPU=16.0, GPU=2.0), None, "actors")["decode_in_actors"] is True
    with pytest.raises(ValueError, match="ray_decode"):
        plan_resources(FakeRay(CPU=2.0), None, "gpu")


def actor_processes():
    return [p for p in psutil.process_iter(["cmdline"])
            if any("InferShards" in part for part in (p.info["cmdline"] or []))]


def run_in_background(tiny_run, cache_root, **kw):
    out = {}

    def target():
        try:
            out["cache"] = analyze(tiny_run.path, config=config(engine="ray", **kw), cache_root=cache_root,
                                   progress=False, log=quiet)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    return t, out


def wait_for_shards(cache_root, run_name, at_least, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            done = len(RunCache.for_run(run_name, cache_root).shard_set("forward").done())
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= at_least:
            return done
        time.sleep(0.05)
    raise AssertionError("no shard was written in time")


def test_a_killed_actor_costs_only_its_unfinished_shard(cluster, tiny_run, local_reference, tmp_path):
    thread, out = run_in_background(tiny_run, tmp_path, ray_actors=2)
    done = wait_for_shards(tmp_path, tiny_run.name, 2)
    victims = actor_processes()
    assert victims, "no model actor process found"
    victims[0].kill()  # SIGKILL, as an out-of-memory killer would
    thread.join(timeout=300)
    assert "error" not in out, out.get("error")
    assert done < 18, "the run had finished before the kill"
    assert_same(out["cache"], local_reference)


def test_a_node_removed_mid_run_costs_only_its_unfinished_shards(cluster, tiny_run, local_reference, tmp_path):
    c, _ = cluster
    worker = next(iter(c.worker_nodes))
    thread, out = run_in_background(tiny_run, tmp_path, ray_actors=2)
    done = wait_for_shards(tmp_path, tiny_run.name, 2)
    c.remove_node(worker, allow_graceful=False)  # the machine is gone …
    c.add_node(**NODE, num_cpus=2)  # … and the cluster replaces it (as KubeRay does)
    thread.join(timeout=300)
    assert "error" not in out, out.get("error")
    assert done < 18, "the run had finished before the node was removed"
    assert_same(out["cache"], local_reference)


def test_a_rerun_after_the_whole_job_was_killed_resumes_from_the_finished_shards(cluster, tiny_run,
                                                                                 local_reference, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    c, _ = cluster
    root = Path(__file__).resolve().parents[4]
    code = ("from analysis.precompute import analyze, AnalyzeConfig;"
            f"analyze({str(tiny_run.path)!r}, config=AnalyzeConfig(batch_size=2, shard_rows=4, stages=('forward',),"
            f" engine='ray', address={c.address!r}), cache_root={str(tmp_path)!r}, progress=False, log=print)")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(root)})
    try:
        done = wait_for_shards(tmp_path, tiny_run.name, 3)
    finally:
        proc.send_signal(signal.SIGKILL)  # the whole job: driver gone
        proc.wait()
    shards = RunCache.for_run(tiny_run.name, tmp_path).shard_set("forward")
    kept = {i: shards.record_path(i).stat().st_mtime_ns for i in shards.done()}
    assert 3 <= done and len(kept) < 18, "the job should have been killed mid-run"
    cache = analyze(tiny_run.path, config=config(engine="ray"), cache_root=tmp_path, progress=False, log=quiet)
    assert all(shards.record_path(i).stat().st_mtime_ns == t for i, t in kept.items())  # not redone
    assert_same(cache, local_reference)
