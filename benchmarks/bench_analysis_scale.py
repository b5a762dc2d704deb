"""Does the analysis stay as cheap per image as the dataset grows?

    python benchmarks/bench_analysis_scale.py --sizes 1000,4000,12000 --px 128 [--work DIR]

Trains one EfficientNet-Lite0 transfer run on a small procedural dataset (``--px`` pixels),
draws a larger procedural dataset the run never saw, and for each size N analyses its
first N images (``streetlens analyze RUN --dataset …``, stages forward, map, channels,
concepts; no feature visualisation). Each N is measured side by side with one plain
inference pass over the same images (the same decoding and preprocessing, ``model(x)``
under inference mode), each in its own process, and prints per N: seconds of both, their
ratio (target ≤ 1.1× at every N), the analysis's peak RSS, its user and kernel CPU
seconds, and the cache's bytes per image. Both processes import ``analysis`` first, so both
run with PyTorch's transparent huge pages (``THP_MEM_ALLOC_ENABLE=1``, see
``analysis/__init__.py``) and keep freed memory for reuse (``analysis/allocator.py``, as
every streetlens command does): the baseline is inference as streetlens' own environment
runs it. Both clocks start after the imports (printed apart: the analysis's stage modules vs
torch and the model code) and both include opening the run and loading the model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGES = "forward,map,channels,concepts"

INFERENCE = r"""
import sys, time
sys.path.insert(0, {root!r})
t_import = time.perf_counter()
import torch
from analysis.allocator import keep_freed_memory
from analysis.data.dataset import Dataset
from analysis.store.arrays import batched
from analysis.train.data import load_rgb
from analysis.train.runs import load_model, open_run
keep_freed_memory()  # as every streetlens command runs (analysis/allocator.py)
torch.set_grad_enabled(False)
t0 = time.perf_counter()
run = open_run({run!r}, models_root={models!r})
model = load_model(run).eval()
ds = Dataset({dataset!r})
rows = ds.usable()
tf = run.eval_transform()
paths = [ds.image_path(p) for p in rows["path"]]
with torch.inference_mode():
    for a, b in batched(len(paths), {batch}):
        model(torch.stack([tf(load_rgb(p)) for p in paths[a:b]]))
import resource; u = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t0, u.ru_maxrss, u.ru_utime, u.ru_stime, t0 - t_import)
"""

ANALYSIS = r"""
import sys, time
sys.path.insert(0, {root!r})
t_import = time.perf_counter()
from analysis.precompute import AnalyzeConfig, all_stages
from analysis.precompute.runner import analyze
all_stages()  # the stage modules and what they import at the top, as the baseline imports torch first
import faiss, sklearn.decomposition, umap  # what the stages import where they use it (not numba's compiled code)
t0 = time.perf_counter()
analyze({run!r}, models_root={models!r}, cache_root={cache!r}, dataset={dataset!r}, progress=False,
        log=lambda m: None, config=AnalyzeConfig(stages=tuple({stages!r}.split(",")), batch_size={batch}))
import resource; u = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t0, u.ru_maxrss, u.ru_utime, u.ru_stime, t0 - t_import)
"""


def measured(code: str) -> dict:
    """Run ``code`` in a fresh Python; its seconds, peak RSS (GB) and user/kernel CPU seconds
    (the child reports its own, so nothing of the setup is counted)."""
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True).stdout
    seconds, maxrss_kb, user, system, imports = (float(v) for v in out.strip().splitlines()[-1].split())
    return {"seconds": seconds, "peak_gb": maxrss_kb / 1e6, "user_s": user, "sys_s": system, "import_s": imports}


def subset(big, n: int, root: Path):
    """A dataset of the first ``n`` rows of ``big`` (a class-balanced order), sharing its images."""
    from analysis.data.dataset import Dataset

    ds = Dataset(root / f"scale-{n}")
    if ds.exists():
        return ds
    df = big.read()
    order = df.groupby("class").cumcount().sort_values(kind="stable").index  # round robin over classes
    ds.root.mkdir(parents=True, exist_ok=True)
    for child in big.root.iterdir():
        if child.is_dir() and not (ds.root / child.name).exists():
            (ds.root / child.name).symlink_to(child)
    ds.write(df.loc[order[:n]].reset_index(drop=True))
    return ds


def setup(work: Path, px: int, biggest: int) -> tuple[str, object]:
    """The benchmark's run (EfficientNet-Lite0 transfer on a small procedural dataset) and a
    procedural dataset of at least ``biggest`` images it never saw; both kept in ``work``."""
    data, models, caches = work / "data", work / "models", work / "cache"
    from analysis.data.dataset import Dataset
    from analysis.data.synthetic import synthesize_dataset
    from analysis.train.trainer import TrainConfig, train

    train_ds = Dataset(data / "scale-train")
    if not train_ds.exists():
        synthesize_dataset(train_ds, per_class=20, size=px, seed=1, progress=False, workers=os.cpu_count())
    run_name = "scale-lite0-transfer"
    if not (models / run_name).exists():
        train(TrainConfig(dataset=str(train_ds.root), backbone="efficientnet_lite0", mode="transfer", epochs=2,
                          image_size=px, name=run_name, models_root=str(models),
                          cache_root=str(caches)), progress=False)
    big = Dataset(data / "scale-big")
    if not big.exists() or len(big.read()) < biggest:
        synthesize_dataset(big, per_class=-(-biggest // 10), size=px, seed=2, progress=False,
                           workers=os.cpu_count())
    return run_name, big


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,4000,12000")
    ap.add_argument("--px", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--work", type=Path, default=None, help="keep the datasets and run here between calls")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    data, models, caches = work / "data", work / "models", work / "cache"

    t0 = time.perf_counter()
    run_name, big = setup(work, args.px, sizes[-1])
    print(f"setup {time.perf_counter() - t0:.0f} s; work folder {work}", flush=True)
    print(f"{'images':>7} {'inference s':>12} {'analysis s':>11} {'ratio':>6} {'peak GB':>8} "
          f"{'user s':>7} {'kernel s':>9} {'cache KB/img':>13}", flush=True)
    rows = []
    for n in sizes:
        ds = subset(big, n, data)
        fmt = dict(root=str(ROOT), run=run_name, models=str(models), dataset=str(ds.root), batch=args.batch,
                   cache=str(caches / f"n{n}"), stages=STAGES)
        shutil.rmtree(caches / f"n{n}", ignore_errors=True)  # measured from scratch, not resumed
        inf = measured(INFERENCE.format(**fmt))
        ana = measured(ANALYSIS.format(**fmt))
        from analysis.store import RunCache

        manifest = RunCache.for_run(f"{run_name}@{ds.name}", caches / f"n{n}").manifest  # another dataset: its own cache
        stage_s = {k: v.get("seconds") for k, v in manifest["stages"].items()}
        cache_bytes = sum(p.stat().st_size for p in (caches / f"n{n}").rglob("*") if p.is_file())
        row = {"images": n, "inference_s": inf["seconds"], "analysis_s": ana["seconds"],
               "ratio": ana["seconds"] / inf["seconds"], "peak_gb": ana["peak_gb"], "user_s": ana["user_s"],
               "sys_s": ana["sys_s"], "kb_per_image": cache_bytes / n / 1e3, "stage_s": stage_s,
               "inference_peak_gb": inf["peak_gb"], "inference_sys_s": inf["sys_s"],
               "import_s": {"inference": inf["import_s"], "analysis": ana["import_s"]}}
        rows.append(row)
        print(f"{n:>7} {row['inference_s']:>12.1f} {row['analysis_s']:>11.1f} {row['ratio']:>6.2f} "
              f"{row['peak_gb']:>8.2f} {row['user_s']:>7.0f} {row['sys_s']:>9.0f} {row['kb_per_image']:>13.1f}",
              flush=True)
        print("        stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in stage_s.items() if v is not None)
              + f"; imports (not timed) {inf['import_s']:.1f} s / {ana['import_s']:.1f} s; inference: peak "
              f"{inf['peak_gb']:.2f} GB, kernel {inf['sys_s']:.0f} s", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
