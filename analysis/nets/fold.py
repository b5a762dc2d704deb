"""Batch norm folded into the convolution before it, for inference.

Why: in eval mode a batch norm is an affine map per channel, y = s·(x − μ) + β with
s = γ / √(σ² + ε); after a convolution it can live in the convolution's weights and bias
(w' = s·w, b' = s·(b − μ) + β), and the pass skips one read and write of every feature
map. On this 2-core CPU, EfficientNet-Lite0's trunk (49 conv → BN pairs, NHWC) took
52 instead of 63 ms per 32 images at 128 px; with the analysis' other changes the forward
stage took 12-13 s instead of 15-17 s at 4,000 images (``benchmarks/bench_analysis_scale.py``).

Which pairs: one traced pass with hooks finds every batch norm whose input *is* a
convolution's output (the same tensor object), so no assumption about module order or
names is needed. A batch norm with an activation (timm's ``BatchNormAct2d``) keeps its
activation. The folded copy is then checked against the original on a random batch; if
the two differ by more than rounding (a convolution's output also used elsewhere, an
unknown batch-norm subclass), the original is kept. The original model is never changed.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

TOLERANCE = 1e-4
"""Largest difference of the folded trunk's output from the original's, relative to its
largest value, that counts as rounding (measured: 4e-6 on EfficientNet-Lite0)."""


def _replacement(bn: nn.BatchNorm2d) -> nn.Module | None:
    """What stays of a folded batch norm: nothing, or timm's activation (and drop) after it."""
    if type(bn) is nn.BatchNorm2d:
        return nn.Identity()
    if type(bn).__name__ == "BatchNormAct2d" and hasattr(bn, "act") and hasattr(bn, "drop"):
        return nn.Sequential(bn.drop, bn.act)
    return None


def conv_bn_pairs(model: nn.Module, run, example: torch.Tensor) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """Every (convolution, batch norm) where the batch norm's input is the convolution's output
    in ``run(example)`` (outputs are held until the pass ends, so no id is reused)."""
    outputs: dict[int, tuple[nn.Conv2d, torch.Tensor]] = {}
    pairs = []

    def after_conv(module, inputs, output):
        outputs[id(output)] = (module, output)

    def after_bn(module, inputs, output):
        found = outputs.get(id(inputs[0]))
        if found is not None and found[1] is inputs[0]:
            pairs.append((found[0], module))

    hooks = [m.register_forward_hook(after_conv if isinstance(m, nn.Conv2d) else after_bn)
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    try:
        with torch.no_grad():
            run(example)
    finally:
        for h in hooks:
            h.remove()
    return pairs


def in_eval_mode(model: nn.Module) -> bool:
    """Every module in eval mode: a batch norm left in training mode would fold batch statistics
    (and the check pass would update its running ones)."""
    return not any(m.training for m in model.modules())


def _format(t: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) \
        and not t.is_contiguous() else torch.contiguous_format


def fold_batchnorm(model: nn.Module, example: torch.Tensor) -> tuple[nn.Module, int]:
    """``(model, folded)``: an eval-mode copy of ``model`` with its conv → batch-norm pairs
    folded, or ``model`` itself (``folded`` 0) when there is nothing to fold or the folded
    copy's ``features(example)`` differs from the original's by more than rounding.
    ``example`` is an input batch of the shape and memory format the caller uses."""
    if not in_eval_mode(model):
        raise ValueError("fold_batchnorm needs an eval-mode model (running statistics)")
    folded = copy.deepcopy(model)
    names = {m: name for name, m in folded.named_modules()}
    pairs = conv_bn_pairs(folded, folded.features, example)
    once = {m for m in [m for pair in pairs for m in pair] if sum(m in pair for pair in pairs) == 1}
    count = 0
    for conv, bn in pairs:
        replacement = _replacement(bn)
        if conv not in once or bn not in once:  # a module called twice: leave it as it is
            continue
        if replacement is None or bn.running_var is None or conv.weight.shape[0] != bn.num_features:
            continue
        with torch.no_grad():
            scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
            shift = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            fmt = _format(conv.weight)
            conv.weight = nn.Parameter((conv.weight * scale.view(-1, 1, 1, 1)).contiguous(memory_format=fmt),
                                       requires_grad=conv.weight.requires_grad)
            conv.bias = nn.Parameter((bias - bn.running_mean) * scale + shift)
        parent, _, child = names[bn].rpartition(".")
        setattr(folded.get_submodule(parent) if parent else folded, child, replacement)
        count += 1
    if not count:
        return model, 0
    with torch.no_grad():
        probe = torch.randn(example.shape, generator=torch.Generator().manual_seed(0), dtype=example.dtype)
        probe = probe.to(example.device).contiguous(memory_format=_format(example))
        want, got = model.features(probe), folded.features(probe)
    if (want - got).abs().max() > TOLERANCE * max(float(want.abs().max()), 1e-12):
        return model, 0
    return folded.eval(), count
