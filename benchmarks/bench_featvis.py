"""Feature-visualisation settings, measured side by side: the numbers behind the
``featvis_*`` defaults of ``AnalyzeConfig`` and of the demo.

    STREETLENS_MODELS=… STREETLENS_DATA=… STREETLENS_CACHE=… \\
        python benchmarks/bench_featvis.py [--run demo-efficientnet_lite0-finetune] [--size 96]

On an analysed run it renders a few units (the top channel of some cities and some
concept directions) with every configuration — parameterisation (lucent's Fourier basis
with decorrelated colours vs plain pixels) × transforms (lucent's standard set, a light
jitter, none) × Adam step — and scores the pictures after 16, 32, 64 … steps of ONE
optimisation per configuration (so the step counts cost nothing extra):

  quality   the activation the picture reaches at its unit over the mean of the unit's
            top-8 dataset images (analysis/explain/featvis_quality.py); median over units
  robust    the same, averaged over four mild edits of the picture (zoom and two shifts by
            10 %, half resolution): a pattern that only works pixel-exactly (adversarial
            noise) scores high on quality and low here
  tv        mean absolute difference of neighbouring pixels (0–1 scale): noise is high
  contrast  mean standard deviation of a picture's grey levels: washed-out grey is low
            (the photos' own tv and contrast are printed for comparison)
  s@N       CPU seconds per picture after N steps: the time of one image-step (a batch
            of 8, as the featvis stage renders; best of two, timed apart from the sweep)
            times N — with one torch thread, about the wall time on an idle core

It saves every picture, a contact sheet per configuration (rows: step counts) and one of
all configurations at each step count, to look at next to the numbers.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.explain.featvis import render_checkpoints  # noqa: E402
from analysis.explain.featvis_quality import quality, reference_responses, responses, top_rows  # noqa: E402
from analysis.precompute import dataset_for_run  # noqa: E402
from analysis.precompute import featvis_on_demand as fod  # noqa: E402
from analysis.store import RunCache  # noqa: E402
from analysis.train.runs import load_model, open_run  # noqa: E402

CONFIGS = {  # name → (param, transforms, lr)
    "fft/standard/0.05": ("fft", "standard", 0.05),
    "fft/standard/0.1": ("fft", "standard", 0.1),
    "fft/jitter/0.05": ("fft", "jitter", 0.05),
    "fft/jitter/0.07": ("fft", "jitter", 0.07),
    "fft/jitter/0.1": ("fft", "jitter", 0.1),
    "fft/none/0.05": ("fft", "none", 0.05),
    "pixel/standard/0.05": ("pixel", "standard", 0.05),
    "pixel/jitter/0.05": ("pixel", "jitter", 0.05),
    "pixel/none/0.05": ("pixel", "none", 0.05),
}


def pick_units(cache: RunCache, n: int) -> list[tuple[str, int]]:
    """Half channels (the top channel of successive cities, distinct), half concepts (the
    most important for some city first)."""
    top = cache.table("top_channels")
    city = top[top["head"] == "city"].sort_values(["rank", "index"])
    channels = list(dict.fromkeys(int(c) for c in city["channel"]))[: n - n // 2]
    imp = cache.table("concept_importance")
    imp = imp[imp["head"] == "city"].groupby("concept")["importance"].max().sort_values(ascending=False)
    concepts = [int(k) for k in imp.index[: n // 2]]
    return [("channel", c) for c in channels] + [("concept", k) for k in concepts]


def edits(pictures: list[Image.Image]) -> list[list[Image.Image]]:
    """Four mild edits of each picture: zoom 1.11 (centre crop 90 %), shift up-left and
    down-right by 10 %, half resolution and back."""
    out = []
    for im in pictures:
        s = im.width
        c = round(s * 0.9)
        d = s - c
        out.append([im.crop((d // 2, d // 2, d // 2 + c, d // 2 + c)).resize((s, s), Image.BILINEAR),
                    im.crop((0, 0, c, c)).resize((s, s), Image.BILINEAR),
                    im.crop((d, d, s, s)).resize((s, s), Image.BILINEAR),
                    im.resize((s // 2, s // 2), Image.BILINEAR).resize((s, s), Image.BILINEAR)])
    return out


def total_variation(pictures) -> float:
    a = np.stack([np.asarray(p, np.float32) / 255 for p in pictures])
    return float((np.abs(np.diff(a, axis=1)).mean() + np.abs(np.diff(a, axis=2)).mean()) / 2)


def contrast(pictures) -> float:
    """Mean over pictures of the standard deviation of their grey levels (0–1 scale): a
    washed-out grey picture is low, however well it excites its unit."""
    return float(np.mean([np.asarray(p.convert("L"), np.float32).std() / 255 for p in pictures]))


def label(im: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (im.width, im.height + 14), "white")
    out.paste(im, (0, 14))
    ImageDraw.Draw(out).text((2, 1), text, fill=(0, 0, 0))
    return out


def sheet(rows: list[tuple[str, list[Image.Image]]], cell: int) -> Image.Image:
    width = 150 + cell * max(len(r) for _, r in rows)
    out = Image.new("RGB", (width, cell * len(rows)), "white")
    draw = ImageDraw.Draw(out)
    for y, (name, pics) in enumerate(rows):
        draw.text((4, y * cell + cell // 2 - 6), name, fill=(0, 0, 0))
        for x, p in enumerate(pics):
            out.paste(p.resize((cell, cell), Image.BILINEAR), (150 + x * cell, y * cell))
    return out


def time_per_image_step(model, layer, objectives, size, mean_std, param, transforms, steps: int = 4,
                        repeats: int = 2) -> tuple[float, float]:
    """(wall, cpu) seconds per image and step of a batch of 8 (the featvis stage's batch),
    best of ``repeats`` after a warm-up; the step costs the same whatever lr or step count."""
    batch = (list(objectives) * 8)[:8]
    best = (float("inf"), float("inf"))
    for i in range(repeats + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        render_checkpoints(model, layer, batch, size=size, checkpoints=(steps,), param=param, transforms=transforms,
                           batch=8, mean_std=mean_std, precision="fp32", progress=False)
        if i:
            best = min(best, ((time.perf_counter() - t0) / steps / 8, (time.process_time() - c0) / steps / 8))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="demo-efficientnet_lite0-finetune")
    ap.add_argument("--units", type=int, default=6)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--checkpoints", default="16,32,64,128,256")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names of CONFIGS")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core machine a second thread mostly waits; "
                         "0: torch's default)")
    ap.add_argument("--out", default="/tmp/bench_featvis")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    names = args.configs.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    run = open_run(args.run)
    cache = RunCache.for_run(run.name)
    dataset = dataset_for_run(run)
    samples = cache.table("samples")
    model = load_model(run)
    layer, mean_std = run.spec.visualised_layer, run.spec.mean_std(run.weights)
    target = run.spec.target_layer  # where the quality is read (see featvis_quality)
    units = pick_units(cache, args.units)
    components = cache.read_concept_basis()[0]
    objectives = [fod.objective(cache, u, components) for u in units]
    features = cache.array("features")
    ref = reference_responses(features, objectives)
    rows = np.unique(np.concatenate([top_rows(features, o) for o in objectives]))
    paths = samples.set_index("row")["path"]
    photos = [Image.open(dataset.image_path(paths[int(r)])).convert("RGB").resize((args.size, args.size), Image.BILINEAR)
              for r in rows]
    photo_tv, photo_contrast = total_variation(photos), contrast(photos)
    print(f"{run.name}: optimised at {layer}, quality read at {target}, {args.size} px, units {units}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}; "
          f"photos' tv {photo_tv:.3f}, contrast {photo_contrast:.3f}; reference responses {np.round(ref, 2).tolist()}", flush=True)

    timing = {}
    for param, transforms in dict.fromkeys((CONFIGS[n][0], CONFIGS[n][1]) for n in names):
        timing[param, transforms] = time_per_image_step(model, layer, objectives, args.size, mean_std,
                                                        param, transforms)
        print(f"  {param}/{transforms}: {timing[param, transforms][0] * 1e3:.0f} ms wall, "
              f"{timing[param, transforms][1] * 1e3:.0f} ms cpu per image-step "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)

    results = {}
    for name in names:
        param, transforms, lr = CONFIGS[name]
        t0 = time.perf_counter()
        pics = render_checkpoints(model, layer, objectives, size=args.size, checkpoints=checkpoints, lr=lr,
                                  param=param, transforms=transforms, seed=0, batch=len(objectives),
                                  mean_std=mean_std, precision="fp32", progress=False)
        wall = time.perf_counter() - t0
        res = {}
        for step in checkpoints:
            q = quality(responses(model, target, pics[step], objectives, mean_std), ref)
            ed = edits(pics[step])
            qr = np.mean([quality(responses(model, target, [e[j] for e in ed], objectives, mean_std), ref)
                          for j in range(4)], axis=0)
            res[step] = (q, qr, total_variation(pics[step]), contrast(pics[step]))
            for (kind, index), p in zip(units, pics[step]):
                p.save(out / f"{name.replace('/', '_')}_{step:04d}_{kind}_{index}.png")
        results[name] = res
        sheet([(f"{name} {s}", [label(p, f"{q:.2f}") for p, q in zip(pics[s], res[s][0])]) for s in checkpoints],
              args.size + 14).save(out / f"sheet_{name.replace('/', '_')}.png")
        print(f"  {name}: quality " + " ".join(f"{np.nanmedian(res[s][0]):.2f}" for s in checkpoints)
              + "; robust " + " ".join(f"{np.nanmedian(res[s][1]):.2f}" for s in checkpoints)
              + f"; tv {res[checkpoints[-1]][2]:.3f}, contrast {res[checkpoints[-1]][3]:.3f}; {wall:.0f} s wall (load {os.getloadavg()[0]:.1f})",
              flush=True)

    n = len(units)
    head = "".join(f"{s:>8}" for s in checkpoints)
    for title, idx in (("median quality", 0), ("median robust quality", 1)):
        print(f"\n{title} (1.0 = the unit's top-8 photos) at steps\n{'config':<22}{head}")
        for name, res in results.items():
            print(f"{name:<22}" + "".join(f"{np.nanmedian(res[s][idx]):8.2f}" for s in checkpoints))
    for title, idx, ref_value in (("tv, noise", 2, photo_tv), ("contrast", 3, photo_contrast)):
        print(f"\n{title} (photos {ref_value:.3f}) at steps\n{'config':<22}{head}")
        for name, res in results.items():
            print(f"{name:<22}" + "".join(f"{res[s][idx]:8.3f}" for s in checkpoints))
    print(f"\nat {checkpoints[-1]} steps: median quality of the channels / concepts; "
          f"then cpu seconds per picture at each step count (batch of 8)\n"
          f"{'config':<22}{'chan':>7}{'conc':>7}" + "".join(f"{f's@{s}':>8}" for s in checkpoints))
    for name, res in results.items():
        q = res[checkpoints[-1]][0]
        per_step = timing[CONFIGS[name][0], CONFIGS[name][1]][1]
        print(f"{name:<22}{np.nanmedian(q[: n - n // 2]):7.2f}{np.nanmedian(q[n - n // 2:]):7.2f}"
              + "".join(f"{per_step * s:8.2f}" for s in checkpoints))
    for s in checkpoints:
        sheet([(name, [Image.open(out / f"{name.replace('/', '_')}_{s:04d}_{k}_{i}.png") for k, i in units])
               for name in results], args.size).save(out / f"overview_{s:04d}.png")
    print(f"\npictures and contact sheets in {out}")


if __name__ == "__main__":
    main()
