"""The per-image stage on the local engine and on the Ray engine, side by side.

    python benchmarks/bench_scale.py --sizes 5000,20000 [--px 128] [--work DIR] [--address A]

Uses the run and the procedural datasets of ``bench_analysis_scale.py`` (an
EfficientNet-Lite0 transfer run; images it never saw). For each size N, in fresh
processes, the ``forward`` stage (predictions, features, activations, all-class Grad-CAM,
channel attributions: everything per image) runs once with ``--engine local`` and once with
``--engine ray`` (a local Ray cluster on 127.0.0.1, or ``--address``). Prints per N and
engine: seconds, images/s (also after the first shard: start-up apart), Ray's throughput
relative to local (target ≥ 0.9×), whether the
outputs are equal (bit for bit, else the largest difference), the driver's peak RSS and the
peak of its own pages (USS, sampled every 0.5 s: RSS also counts the pages of Ray's object
store that the driver has mapped, which belong to the store), the
peak RSS of every Ray worker process (each reports its own with the shards it writes), and
the cache's bytes per image. Peak
memory should not grow from 5k to 20k images (within 10 %).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_analysis_scale import setup, subset  # noqa: E402

ANALYSIS = r"""
import sys, time, json, threading
sys.path.insert(0, {root!r})
import psutil
from analysis.precompute import AnalyzeConfig, all_stages
from analysis.precompute.runner import analyze
all_stages()  # imports are not timed (the same for both engines)
peak_uss, done = [0.0], threading.Event()

def sample():  # the driver's own memory (USS: pages no other process maps; not Ray's object store)
    me = psutil.Process()
    while not done.wait(0.5):
        peak_uss[0] = max(peak_uss[0], me.memory_full_info().uss / 1e6)

threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
analyze({run!r}, models_root={models!r}, cache_root={cache!r}, dataset={dataset!r}, progress=False,
        log=lambda m: None, config=AnalyzeConfig(stages=("forward",), batch_size={batch}, engine={engine!r},
                                                 address={address!r}))
seconds = time.perf_counter() - t0
done.set()
import resource; u = resource.getrusage(resource.RUSAGE_SELF)
mem = psutil.Process().memory_info()  # private = resident minus shared pages (Ray's object store)
print(json.dumps({{"seconds": seconds, "driver_mb": u.ru_maxrss / 1e3, "driver_private_mb": (mem.rss - mem.shared) / 1e6,
                  "driver_uss_peak_mb": peak_uss[0]}}))
"""


def measured(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(cache_a, cache_b) -> str:
    """'bit-identical', or the largest absolute difference over the per-image arrays."""
    import numpy as np

    from analysis.precompute.engines.forward_work import ARRAYS

    worst = 0.0
    for name in ARRAYS:
        a, b = cache_a.array(name), cache_b.array(name)
        for s in range(0, len(a), 1024):
            x, y = a[s:s + 1024], b[s:s + 1024]
            if not np.array_equal(x, y):
                worst = max(worst, float(np.abs(x.astype(np.float64) - y.astype(np.float64)).max()))
    same_table = cache_a.samples().equals(cache_b.samples())
    return ("bit-identical" if worst == 0 else f"max |diff| {worst:.2e}") + \
        ("" if same_table else "; samples tables differ")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="5000,20000")
    ap.add_argument("--px", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--address", default=None, help="a Ray cluster to use [default: a local one]")
    ap.add_argument("--work", type=Path, default=None, help="keep the datasets and run here between calls")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    t0 = time.perf_counter()
    run_name, big = setup(work, args.px, sizes[-1])
    print(f"setup {time.perf_counter() - t0:.0f} s; work folder {work}", flush=True)
    from analysis.store import RunCache

    results = []
    for n in sizes:
        ds = subset(big, n, work / "data")
        caches = {}
        for engine in ("local", "ray"):
            root = work / "cache" / f"{engine}-{n}"
            shutil.rmtree(root, ignore_errors=True)  # measured from scratch, not resumed
            fmt = dict(root=str(ROOT), run=run_name, models=str(work / "models"), dataset=str(ds.root),
                       batch=args.batch, cache=str(root), engine=engine,
                       address=args.address if engine == "ray" else None)
            m = measured(ANALYSIS.format(**fmt))
            caches[engine] = RunCache.for_run(f"{run_name}@{ds.name}", root)
            # every Ray worker reports its own peak RSS with each shard (the manifest keeps the largest)
            m["workers_mb"] = sorted(caches[engine].stage_record("forward").get("worker_peak_mb", {}).items())
            size = sum(p.stat().st_size for p in caches[engine].root.rglob("*") if p.is_file())
            pace = {k: caches[engine].stage_record("forward").get(k) for k in ("first_shard_s", "steady_img_per_s")}
            row = {"images": n, "engine": engine, **m, **pace, "img_per_s": n / m["seconds"],
                   "kb_per_image": size / n / 1e3}
            results.append(row)
            peak_worker = max((w["peak_mb"] for _, w in m["workers_mb"]), default=0.0)
            print(f"{n:>7} {engine:<6} {m['seconds']:8.1f} s {row['img_per_s']:7.1f} img/s  driver peak "
                  f"{m['driver_mb']:7.0f} MB (own pages, peak {m['driver_uss_peak_mb']:6.0f} MB)  "
                  f"largest worker peak {peak_worker:7.0f} MB  "
                  f"cache {row['kb_per_image']:.1f} KB/img", flush=True)
            print(f"{'':>16}first shard after {pace['first_shard_s']} s, then {pace['steady_img_per_s']} img/s",
                  flush=True)
            for label, w in m["workers_mb"]:
                print(f"{'':>16}{label:<30} peak RSS {w['peak_mb']:7.0f} MB, private (largest seen) "
                      f"{w['private_mb']:7.0f} MB", flush=True)
        local, ray = (r for r in results[-2:])
        steady = (f" (after the first shard: {ray['steady_img_per_s'] / local['steady_img_per_s']:.2f}x)"
                  if ray.get("steady_img_per_s") and local.get("steady_img_per_s") else "")
        print(f"{n:>7} ray/local throughput {ray['img_per_s'] / local['img_per_s']:.2f}x{steady}; outputs "
              f"{compare(caches['local'], caches['ray'])}", flush=True)
    if len(sizes) > 1:
        for engine in ("local", "ray"):
            rows = [r for r in results if r["engine"] == engine]
            grow = rows[-1]["driver_mb"] / rows[0]["driver_mb"]
            private = rows[-1]["driver_uss_peak_mb"] / rows[0]["driver_uss_peak_mb"]
            wk = [max((w["peak_mb"] for _, w in r["workers_mb"]), default=0.0) for r in rows]
            wp = [max((w["private_mb"] for _, w in r["workers_mb"]), default=0.0) for r in rows]
            wgrow = (f", largest worker peak RSS {wk[-1] / wk[0]:.2f}x, private {wp[-1] / wp[0]:.2f}x"
                     if wk[0] and wp[0] else "")
            print(f"{engine}: driver peak {rows[0]['images']}→{rows[-1]['images']} images: {grow:.2f}x "
                  f"(its own pages' peak {private:.2f}x){wgrow}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
