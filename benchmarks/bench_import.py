"""Import at scale: the local engine against the Ray engine on the same generated folder.

    python benchmarks/bench_import.py --n 2000 --size 128

Draws N small photo-like JPEGs in a few class folders (with ~2 % resized near-copies,
~1 % exact copies and ~1 % truncated files), then imports them once with each engine,
each in a fresh child process so that its peak RSS is the driver's own (the local
engine's decoding processes and Ray's workers are not counted: they are not the driver).
Prints per engine: the time, files/s and the driver's peak RSS; for Ray also the time
to start its local cluster (on 127.0.0.1) and a second, warm import on the running
cluster; the ratio; and whether both engines wrote the same table.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def draw(root: Path, n: int, size: int, classes: int, seed: int = 0) -> Path:
    """SRC/<class>/*.jpg: distinct smooth colour fields with noise, plus some trouble."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    src = root / "src"
    names = [f"city{c}" for c in range(classes)]
    for name in names:
        (src / name).mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for i in range(n):
        cls = names[i % classes]
        path = src / cls / f"{i:07d}.jpg"
        kind = rng.random()
        if made and kind < 0.02:  # a resized near-copy of an earlier photo
            with Image.open(made[int(rng.integers(len(made)))]) as im:
                im.resize((size + 16, size + 16), Image.BICUBIC).save(path, quality=90)
        elif made and kind < 0.03:  # an exact copy
            path.write_bytes(made[int(rng.integers(len(made)))].read_bytes())
        elif made and kind < 0.04:  # a truncated file
            path.write_bytes(made[-1].read_bytes()[:300])
        else:
            coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            base = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC), np.int16)
            noise = rng.integers(-12, 13, (size, size, 3))
            Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path, quality=90)
            made.append(path)
    return src


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(engine: str, src: Path, out: Path, workers: int) -> None:
    """One engine's import(s), timed, in this (fresh) process; prints a JSON line."""
    from analysis.data.dataset import Dataset
    from analysis.data.importer import ImportOptions, import_folder

    groups = {p.name: "East" for p in src.iterdir()}
    opts = ImportOptions(workers=workers)
    result = {"engine": engine, "rss_before_mb": rss_mb()}
    if engine == "local":
        t0 = time.perf_counter()
        report = import_folder(src, Dataset(out / "local"), groups=groups, options=opts, progress=False)
        result.update(seconds=time.perf_counter() - t0, files=report.files_seen, added=report.added)
    else:
        from analysis.cluster import ray_session

        t0 = time.perf_counter()
        with ray_session(None) as ray:
            result["start_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            report = import_folder(src, Dataset(out / "ray"), groups=groups, options=opts,
                                   engine="ray", progress=False)
            result.update(import_s=time.perf_counter() - t1, files=report.files_seen,
                          added=report.added, cpus=ray.cluster_resources().get("CPU"))
            t2 = time.perf_counter()
            import_folder(src, Dataset(out / "ray_warm"), groups=groups, options=opts,
                          engine="ray", progress=False)
            result["warm_s"] = time.perf_counter() - t2
        result["seconds"] = result["start_s"] + result["import_s"]
    result["rss_peak_mb"] = rss_mb()
    print("RESULT " + json.dumps(result))


def run_child(engine: str, src: Path, out: Path, workers: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", engine, "--src", str(src),
                           "--out", str(out), "--workers", str(workers)],
                          capture_output=True, text=True, cwd=ROOT)
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode or not line:
        sys.exit(f"{engine} import failed:\n{done.stderr[-3000:]}")
    return json.loads(line[-1][len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="files to generate")
    ap.add_argument("--size", type=int, default=128, help="photo side (px)")
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--workers", type=int, default=0, help="local engine processes [default: cores, at most 4]")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--src", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.src, args.out, args.workers)
        return

    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        t0 = time.perf_counter()
        src = draw(Path(tmp), args.n, args.size, args.classes)
        print(f"{args.n} files of {args.size} px in {args.classes} classes drawn in "
              f"{time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs")
        out = Path(tmp) / "out"
        local = run_child("local", src, out, args.workers)
        ray = run_child("ray", src, out, args.workers)

        from analysis.data.dataset import Dataset

        names = ("local", "ray", "ray_warm")
        tables = [Dataset(out / name).read().drop(columns="added") for name in names]
        same = all(t.equals(tables[0]) for t in tables[1:])
    n = local["files"]
    print(f"{'engine':<24} {'seconds':>8} {'files/s':>8} {'driver peak RSS MB':>19}")
    print(f"{'local':<24} {local['seconds']:>8.2f} {n / local['seconds']:>8.0f} {local['rss_peak_mb']:>19.0f}")
    print(f"{'ray (incl. start)':<24} {ray['seconds']:>8.2f} {n / ray['seconds']:>8.0f} {ray['rss_peak_mb']:>19.0f}")
    print(f"{'  ray cluster start':<24} {ray['start_s']:>8.2f}")
    print(f"{'  ray import':<24} {ray['import_s']:>8.2f} {n / ray['import_s']:>8.0f}")
    print(f"{'  ray import, warm':<24} {ray['warm_s']:>8.2f} {n / ray['warm_s']:>8.0f}")
    print(f"ratio local/ray: {local['seconds'] / ray['seconds']:.2f} (incl. start), "
          f"{local['seconds'] / ray['warm_s']:.2f} (warm); >1 means Ray is faster")
    print(f"driver RSS before the import: local {local['rss_before_mb']:.0f} MB, ray {ray['rss_before_mb']:.0f} MB")
    print(f"{local['added']} added by each; same table from both engines: {same}")


if __name__ == "__main__":
    main()
