"""Precision and memory layout, side by side on this machine: the numbers behind
``analysis/nets/precision.py``'s rules.

    python benchmarks/bench_precision.py [--backbones efficientnet_lite0,resnet18_places365]

For each backbone (pretrained weights when on disk, else random: the speed is the same)
it times, in one process:
  trunk pass   a batch of 32 at 224 px, inference: NCHW vs channels-last, fp32 vs bf16
               (what fills the training's trunk cache)
  last block   a training step (forward + backward + SGD) of the layers fine-tuning
               trains, on their cached input: fp32 vs bf16 autocast
  featvis      lucent feature visualisation, 8 channels × 12 steps at 96 px: fp32 vs bf16
and prints the times and the ratios. bf16 is only fast where it is native (CUDA, a CPU
with AMX / AVX512-BF16); elsewhere expect ratios below 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.explain.featvis import render_features  # noqa: E402
from analysis.nets.precision import autocast, fast_bf16  # noqa: E402
from analysis.nets.registry import get_backbone  # noqa: E402


def best_of(fn, repeats: int = 3) -> float:
    fn()  # warm-up (oneDNN picks its kernels on the first call)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def build(spec) -> tuple[torch.nn.Module, str]:
    """The trunk with its pretrained weights where they are on disk, else random ones."""
    try:
        return spec.build(spec.default_weights), spec.default_weights
    except Exception as e:  # noqa: BLE001 — a missing or unverifiable weight file
        if "random" not in spec.weight_sources:
            raise
        print(f"  ({spec.name}: {str(e).splitlines()[0][:100]} — timing random weights)")
        return spec.build("random"), "random"


def trunk_pass(trunk: torch.nn.Module, x: torch.Tensor, channels_last: bool, precision: str) -> float:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    trunk.to(memory_format=fmt)
    xx = x.contiguous(memory_format=fmt)

    def run():
        with torch.inference_mode(), autocast(x.device, precision):
            trunk(xx)

    t = best_of(run)
    trunk.to(memory_format=torch.contiguous_format)
    return t


def last_block_step(prefix, tail, x: torch.Tensor, precision: str) -> float:
    with torch.no_grad():
        feats = prefix.eval()(x)
    tail.train()
    opt = torch.optim.SGD(tail.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        with autocast(x.device, precision):
            y = tail(feats)
        y.float().mean().backward()
        opt.step()

    return best_of(step)


def featvis(trunk, spec, weights: str, precision: str) -> float:
    def run():
        render_features(trunk, spec.visualised_layer, [("channel", c) for c in range(8)], size=96,
                        steps=12, batch=8, mean_std=spec.mean_std(weights), lr=0.1,
                        precision=precision, progress=False)

    return best_of(run, repeats=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbones", default="efficientnet_lite0,resnet18_places365")
    args = ap.parse_args()
    cpu = torch.device("cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, native bf16: {fast_bf16(cpu)}")
    torch.manual_seed(0)
    x = torch.rand(32, 3, 224, 224)
    for name in args.backbones.split(","):
        spec = get_backbone(name)
        trunk, weights = build(spec)
        trunk.eval()
        for p in trunk.parameters():
            p.requires_grad_(False)
        print(f"\n{name} ({weights} weights)")
        t = {(cl, pr): trunk_pass(trunk, x, cl, pr) for cl in (False, True) for pr in ("fp32", "bf16")}
        base = t[(False, "fp32")]
        for (cl, pr), s in t.items():
            print(f"  trunk pass {'channels-last' if cl else 'NCHW         '} {pr}: "
                  f"{32 / s:6.1f} img/s  ×{base / s:.2f} vs NCHW fp32")
        prefix, tail = spec.split(trunk)
        for p in tail.parameters():
            p.requires_grad_(True)
        f32, b16 = (last_block_step(prefix, tail, x, pr) for pr in ("fp32", "bf16"))
        print(f"  last block training step: fp32 {f32 * 1e3:.0f} ms, bf16 {b16 * 1e3:.0f} ms "
              f"per batch of 32  ×{f32 / b16:.2f}")
        f32, b16 = (featvis(trunk, spec, weights, pr) for pr in ("fp32", "bf16"))
        per = 8 * 12
        print(f"  featvis: fp32 {f32 / per * 1e3:.1f} ms, bf16 {b16 / per * 1e3:.1f} ms per image-step"
              f"  ×{f32 / b16:.2f}")


if __name__ == "__main__":
    main()
