"""What verified concepts cost: causal effect + stability + contrast vs one inference pass.

    python benchmarks/bench_concepts.py RUN [--models-root models] [--cache-root cache]

On an analysed run (the demo's, by default its fine-tuned EfficientNet-Lite0), in one
process and side by side:
  inference          every image of the run's dataset decoded, transformed and classified
                     (``model(x)`` under inference mode, batch 16): one inference pass
  concept_effects    the stage as ``streetlens analyze`` runs it (removal of every concept
                     from every image, class effects with bootstrap intervals, deletion /
                     insertion curves, completeness, the contrast of confused pairs)
  concept_stability  the stage: refits of the concepts on bootstrap resamples, Hungarian match
and prints each time and its ratio to the inference pass (target: effects + stability +
contrast ≤ 0.5×). The stages run on a copy of the run's cache, so it is left untouched.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.precompute import AnalyzeConfig, analyze  # noqa: E402
from analysis.store import RunCache, default_cache_root  # noqa: E402
from analysis.train.data import load_rgb  # noqa: E402
from analysis.train.runs import load_model, open_run  # noqa: E402

TIMED = ("concept_effects", "concept_stability")


def inference_seconds(run, paths, batch: int = 16) -> float:
    model = load_model(run, "cpu")
    tf = run.eval_transform()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for a in range(0, len(paths), batch):
            model(torch.stack([tf(load_rgb(p)) for p in paths[a:a + batch]]))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", nargs="?", default="demo-efficientnet_lite0-finetune")
    ap.add_argument("--models-root", type=Path, default=None)
    ap.add_argument("--cache-root", type=Path, default=None)
    args = ap.parse_args()
    run = open_run(args.run, args.models_root)
    source = RunCache.for_run(run.name, args.cache_root or default_cache_root())
    if not source.has("concept_maps"):
        sys.exit(f"{source.root} has no concepts: run `streetlens analyze {run.name}` first")
    samples = source.samples()
    from analysis.data.dataset import Dataset

    ds = Dataset(Path(source.manifest["dataset"]))
    paths = [ds.image_path(p) for p in samples["path"]]
    print(f"{run.name}: {len(paths)} images, {torch.get_num_threads()} torch threads")

    with tempfile.TemporaryDirectory(prefix="bench-concepts-") as tmp:
        shutil.copytree(source.root, Path(tmp) / run.name)
        infer = inference_seconds(run, paths)
        cache = analyze(run.path, config=AnalyzeConfig(stages=TIMED, redo=TIMED), cache_root=Path(tmp),
                        models_root=args.models_root, progress=False, log=lambda *_: None)
        seconds = {s: cache.manifest["stages"][s]["seconds"] for s in TIMED}
    total = sum(seconds.values())
    print(f"{'':<22}{'s':>8}{'× inference':>14}")
    print(f"{'inference pass':<22}{infer:8.2f}{1.0:14.2f}")
    for s, v in seconds.items():
        print(f"{s:<22}{v:8.2f}{v / infer:14.2f}")
    verdict = "OK" if total / infer <= 0.5 else "over"
    print(f"{'effects+stability+contrast':<22}{total:8.2f}{total / infer:14.2f}  (target <= 0.5)  {verdict}")


if __name__ == "__main__":
    main()
