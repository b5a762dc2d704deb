"""All-class Grad-CAM + channel attribution vs plain inference and vs pytorch-grad-cam.

    python benchmarks/bench_gradcam.py --backbone efficientnet_lite0 --weights imagenet \\
        --n 32 --size 224 --batch 8

On the same N deterministic photo-like images (or ``--images DIR`` of JPEG/PNG files),
with the model in eval mode, times:
  inference          ``model(x)`` under no_grad, batch by batch
  ours               ``all_class_cams``: one trunk pass + head Jacobian → raw maps of every
                     output of both heads and channel attributions
  ours + display     the same plus pytorch-grad-cam's output for every output (ReLU,
                     normalise, bilinear resize to the image, normalise)
  pytorch-grad-cam   ``GradCAM`` looped over every class of both heads (one forward and
                     backward per output per batch) — its best case: one object per head
and prints (a) ours / inference (target <= 1.3x), (b) pytorch-grad-cam / ours+display
(target >= 10x), and the largest difference between the two libraries' maps.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.explain.attribution import HeadSelect  # noqa: E402
from analysis.explain.gradcam import all_class_cams, display_map, gradcam_map  # noqa: E402
from analysis.nets.classifier import TwoHeadClassifier  # noqa: E402
from analysis.nets.registry import get_backbone  # noqa: E402


def synthetic_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """(n, 3, size, size) in [0, 1]: smooth random colour fields plus fine noise, so the
    maps have structure (not the flat response of pure noise)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g)
    base = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    return (base + 0.05 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)


def folder_images(folder: Path, n: int, size: int) -> torch.Tensor:
    """The first ``n`` images under ``folder`` (sorted; cycled if fewer), shorter side
    resized to ``size`` and centre-cropped, in [0, 1]."""
    from PIL import Image

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not files:
        sys.exit(f"no .jpg/.jpeg/.png images under {folder}; pass a folder of photos")
    out = []
    for i in range(n):
        im = Image.open(files[i % len(files)]).convert("RGB")
        scale = size / min(im.size)
        im = im.resize((max(size, round(im.width * scale)), max(size, round(im.height * scale))),
                       Image.BILINEAR)
        left, top = (im.width - size) // 2, (im.height - size) // 2
        im = im.crop((left, top, left + size, top + size))
        out.append(torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1))
    return torch.stack(out)


def run_inference(model, batches):
    with torch.no_grad():
        for xb in batches:
            model(xb)


def run_ours(model, batches):
    return [all_class_cams(model, xb, keep_features=False) for xb in batches]


def run_ours_display(model, batches):
    maps = []
    for xb in batches:
        r = all_class_cams(model, xb, keep_features=False)
        k = r.raw.shape[1]
        maps.append(torch.stack([display_map(gradcam_map(r.raw, i), tuple(xb.shape[-2:]))
                                 for i in range(k)], dim=1))
    return torch.cat(maps).numpy()


def run_pytorch_grad_cam(model, target_layer, batches, n_classes, n_groups):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer = model.trunk.get_submodule(target_layer)
    per_output = []
    for head, count in (("city", n_classes), ("group", n_groups)):
        # HeadSelect: the model seen through one head (pytorch-grad-cam wants one logits tensor)
        with GradCAM(model=HeadSelect(model, head), target_layers=[layer]) as cam:
            for k in range(count):
                per_output.append(np.concatenate(
                    [cam(xb, [ClassifierOutputTarget(k)] * len(xb)) for xb in batches]))
    return np.stack(per_output, axis=1)  # (N, K, H, W)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--weights", default=None, help="weight source (default: the backbone's)")
    ap.add_argument("--n", type=int, default=32, help="number of images")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--groups", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3, help="repetitions of inference and ours")
    ap.add_argument("--oracle-reps", type=int, default=1, help="repetitions of pytorch-grad-cam")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--images", type=Path, default=None, help="folder of photos instead of synthetic")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    spec = get_backbone(args.backbone)
    weights = args.weights or spec.default_weights
    torch.manual_seed(0)
    model = TwoHeadClassifier(spec.build(weights), spec.feature_channels, args.classes, args.groups).eval()
    x01 = folder_images(args.images, args.n, args.size) if args.images else synthetic_images(args.n, args.size)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in spec.mean_std(weights))
    x = (x01 - mean) / std
    batches = list(torch.split(x, args.batch))
    k_total = args.classes + args.groups

    # warm-up (allocator, oneDNN kernels) on one batch each
    run_inference(model, batches[:1])
    run_ours_display(model, batches[:1])
    run_pytorch_grad_cam(model, spec.target_layer, batches[:1], 1, 1)

    t_inf, t_ours, t_disp, t_pgc = [], [], [], []
    for _ in range(args.reps):  # interleaved, so load changes hit all alike
        t_inf.append(timed(run_inference, model, batches)[0])
        t_ours.append(timed(run_ours, model, batches)[0])
        dt, ours_maps = timed(run_ours_display, model, batches)
        t_disp.append(dt)
    for _ in range(args.oracle_reps):
        dt, ref_maps = timed(run_pytorch_grad_cam, model, spec.target_layer, batches,
                             args.classes, args.groups)
        t_pgc.append(dt)

    fmap = spec.feature_shape(args.size)
    source = f"images from {args.images}" if args.images else "synthetic images"
    print(f"{args.backbone} ({weights}), {args.n} {source} "
          f"at {args.size} px, batch {args.batch}, {args.classes} cities + {args.groups} groups "
          f"= {k_total} outputs, feature map {fmap[0]}x{fmap[1]}x{fmap[2]}, "
          f"{torch.get_num_threads()} torch threads")
    print(f"median of {args.reps} runs (pytorch-grad-cam: {args.oracle_reps}), time.perf_counter")
    print(f"{'':<44}{'s total':>9}{'img/s':>9}{'ms/img':>9}")
    rows = [("plain inference model(x)", t_inf),
            ("ours: all-class Grad-CAM + channel attr", t_ours),
            ("ours + display maps for all outputs", t_disp),
            (f"pytorch-grad-cam, {k_total} outputs x N", t_pgc)]
    med = {}
    for name, ts in rows:
        m = statistics.median(ts)
        med[name] = m
        print(f"{name:<44}{m:>9.2f}{args.n / m:>9.2f}{1000 * m / args.n:>9.1f}")
    a = med[rows[1][0]] / med[rows[0][0]]
    b = med[rows[3][0]] / med[rows[2][0]]
    b_raw = med[rows[3][0]] / med[rows[1][0]]
    print(f"(a) ours / inference:                 {a:5.2f}x  (target <= 1.3x)  "
          f"{'OK' if a <= 1.3 else 'MISSED'}")
    print(f"(b) pytorch-grad-cam / ours+display:  {b:5.1f}x  (target >= 10x)   "
          f"{'OK' if b >= 10 else 'MISSED'}   (vs ours raw: {b_raw:.1f}x)")
    diff = np.abs(ours_maps - ref_maps)
    print(f"maps equal: max |ours - pytorch-grad-cam| = {diff.max():.2e} "
          f"(mean {diff.mean():.1e}) over {ref_maps.shape[0]}x{ref_maps.shape[1]} maps of "
          f"{ref_maps.shape[2]}x{ref_maps.shape[3]}")


if __name__ == "__main__":
    main()
