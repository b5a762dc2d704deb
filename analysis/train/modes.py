"""Training-mode registry: how a mode cuts a classifier into a frozen part (computed once,
cacheable) and a trainable part, and how it optimises the latter.

Adding a mode = one module with a ``@register_mode`` function returning a :class:`Plan`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from analysis.nets.classifier import TwoHeadClassifier
from analysis.nets.registry import BackboneSpec


class PooledHead(nn.Module):
    """The classifier head fed with already pooled features (N, C)."""

    def __init__(self, model: TwoHeadClassifier):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor):
        h = self.model.shared(z)
        return self.model.class_out(h), self.model.group_out(h)


class TailHead(nn.Module):
    """The trainable end of the trunk followed by the head."""

    def __init__(self, tail: nn.Module, model: TwoHeadClassifier):
        super().__init__()
        self.tail, self.model = tail, model

    def forward(self, z: torch.Tensor):
        return self.model.head(self.tail(z))


@dataclass
class Plan:
    """What a mode trains. ``frozen`` runs in eval mode without gradients (and is cached
    unless ``cacheable`` is False); ``trainable`` maps its output to both logits."""

    frozen: nn.Module
    trainable: nn.Module
    pooled: bool  # frozen output is pooled to (N, C) before ``trainable``
    param_groups: list[dict]
    optimizer: str  # "sgd" or "adam"
    cacheable: bool = True
    weights: str = "default"  # which backbone weights the mode starts from
    defaults: dict = field(default_factory=dict)


Planner = Callable[[TwoHeadClassifier, BackboneSpec, dict], Plan]
MODES: dict[str, Planner] = {}
MODE_HELP: dict[str, str] = {}


def register_mode(name: str, help: str) -> Callable[[Planner], Planner]:
    def decorate(fn: Planner) -> Planner:
        MODES[name] = fn
        MODE_HELP[name] = help
        return fn

    return decorate


def get_mode(name: str) -> Planner:
    _load()
    if name not in MODES:
        raise ValueError(f"unknown mode {name!r}; choose one of {', '.join(sorted(MODES))}")
    return MODES[name]


MODE_MODULES = ("analysis.train.finetune", "analysis.train.scratch", "analysis.train.transfer")
"""Modules whose planners register themselves; imported by name on first use, so this
registry depends on none of them."""


def _load() -> None:
    for module in MODE_MODULES:
        importlib.import_module(module)


def freeze(module: nn.Module) -> None:
    for p in module.parameters():
        p.requires_grad_(False)


def head_parameters(model: TwoHeadClassifier) -> list[nn.Parameter]:
    return [*model.shared.parameters(), *model.class_out.parameters(), *model.group_out.parameters()]


def build_optimizer(plan: Plan, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    groups = [{**g, "lr": lr * g.get("lr_scale", 1.0)} for g in plan.param_groups]
    for g in groups:
        g.pop("lr_scale", None)
    if plan.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
