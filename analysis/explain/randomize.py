"""Model-parameter randomisation (Adebayo et al., 2018, *Sanity checks for saliency maps*):
copies of a model whose weights are re-initialised layer by layer, logits first. A map
that survives randomising the weights explains the input, not the model."""
from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from analysis.explain.attribution import OUTPUT_LAYERS, first_tensor


def trunk_stages_top_down(model: nn.Module) -> list[str]:
    """``model.get_submodule`` paths of the trunk stages that hold parameters, last stage
    first: the order in which the cascading randomisation destroys the trunk."""
    trunk = getattr(model, "trunk", None)
    if not isinstance(trunk, nn.Module):
        raise ValueError("model has no trunk")
    return [f"trunk.{name}" for name, stage in reversed(list(trunk.named_children()))
            if any(True for _ in stage.parameters())]


def head_layers_top_down(model: nn.Module) -> list[str]:
    """Parameterised layers outside the trunk, logits first (``class_out``, ``group_out``),
    then the rest in reverse order of definition."""
    names = [n for n, m in model.named_modules()
             if n and n != "trunk" and not n.startswith("trunk.")
             and any(True for _ in m.parameters(recurse=False))]
    first = [n for n in OUTPUT_LAYERS if n in names]
    return first + [n for n in reversed(names) if n not in first]


def cascade_order(model: nn.Module) -> list[str]:
    """Head layers top-down, then trunk stages top-down (Adebayo et al.'s cascade)."""
    return head_layers_top_down(model) + trunk_stages_top_down(model)


def _reinitialise(module: nn.Module) -> None:
    """Fresh random weights: each submodule's own ``reset_parameters`` (its usual init);
    parameters of modules without one are redrawn from a normal of the same std."""
    for sub in module.modules():
        own = list(sub.parameters(recurse=False))
        if not own:
            continue
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()
        else:
            for p in own:
                std = float(p.detach().float().std()) if p.numel() > 1 else 0.0
                nn.init.normal_(p, 0.0, std if std > 0 and std == std else 0.02)


def randomized_copy(model: nn.Module, layers: Sequence[str] | str, seed: int = 0,
                    depth: int | None = None) -> nn.Module:
    """A deep copy of ``model`` with the weights of ``layers`` re-initialised.

    ``layers`` are ``model.get_submodule`` paths, or ``"cascade-from-top"`` for the first
    ``depth`` entries of ``cascade_order`` (all when None): head layers first, then trunk
    stages in reverse order. The original is never touched. The same seed gives the same
    weights, and a deeper cascade extends a shallower one (same draws for shared layers),
    so successive cascade steps differ only by the newly randomised layer.
    """
    if isinstance(layers, str):
        if layers != "cascade-from-top":
            raise ValueError(f"layers must be a list of layer paths or 'cascade-from-top', got {layers!r}")
        order = cascade_order(model)
        if depth is not None and not 0 <= depth <= len(order):
            raise ValueError(f"depth must be in 0..{len(order)}, got {depth}")
        names = order if depth is None else order[:depth]
    else:
        names = list(layers)
        if depth is not None:
            raise ValueError("depth only applies to 'cascade-from-top'")
    for name in names:
        try:
            model.get_submodule(name)
        except AttributeError:
            raise ValueError(f"no layer {name!r} in the model; choose from {cascade_order(model)}") from None
    clone = copy.deepcopy(model)
    ref = first_tensor(clone)
    cuda = [ref.device.index or 0] if ref is not None and ref.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), torch.no_grad():
        torch.manual_seed(seed)
        for name in names:
            _reinitialise(clone.get_submodule(name))
    return clone


def cascade(model: nn.Module, seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """``(last randomised layer, copy)`` for each step of the cascading randomisation."""
    for depth, name in enumerate(cascade_order(model), start=1):
        yield name, randomized_copy(model, "cascade-from-top", seed=seed, depth=depth)
