"""Which numeric precision runs fastest where: one rule for every stage that may use bf16.

Measured on this project's 2-core AMX CPU (``benchmarks/bench_precision.py``, batch of
32 at 224 px): a bf16 trunk pass of wideresnet18 is 3.7× faster than fp32, of
EfficientNet-Lite0 1.8× (3.6× together with channels-last tensors); a training step of
the last block 3.7× and 1.6×. But feature visualisation, which back-propagates to the
input through EfficientNet's depthwise convolutions at full resolution, is slower in
bf16 (20 vs 12 ms per image and step), so it keeps fp32 there.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

PRECISIONS = ("auto", "fp32", "bf16")


def fast_bf16(device: torch.device) -> bool:
    """True where bfloat16 matmuls/convolutions are native (CUDA, or a CPU with AMX /
    AVX512-BF16). Elsewhere bf16 is emulated and slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" → "bf16" where it is native, else "fp32": the rule for forward passes (the
    trunk cache) and for training the trainable layers.

    Why: see the module's numbers; the cache is stored as float16 anyway (pooled features
    agree with fp32 to cosine > 0.999), and the fine-tuned demo model reaches the same
    test accuracy trained in bf16 as in fp32 (0.850)."""
    if check_precision(precision) == "auto":
        return "bf16" if fast_bf16(device) else "fp32"
    return precision


def has_depthwise(net: nn.Module) -> bool:
    """True if ``net`` holds a depthwise convolution (groups == in_channels > 1)."""
    return any(isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels
               for m in net.modules())


def backward_precision(precision: str, net: nn.Module, device: torch.device) -> str:
    """"auto" → "bf16" for loops that also run backward passes (feature visualisation)
    where bf16 is native, except on a CPU for networks with depthwise convolutions
    (EfficientNet-Lite0: 20 vs 12 ms per image and step in bf16 vs fp32; wideresnet18:
    14 vs 28 ms)."""
    if check_precision(precision) != "auto":
        return precision
    if not fast_bf16(device):
        return "fp32"
    return "bf16" if device.type == "cuda" or not has_depthwise(net) else "fp32"


def autocast(device: torch.device, precision: str):
    """bfloat16 autocast for ``precision == "bf16"``, else a no-op context."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
