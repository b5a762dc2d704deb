"""From scratch: random initial weights, everything trained. The study's baseline that
overfits on a few thousand photos; nothing is frozen, so nothing can be cached."""

from __future__ import annotations

from torch import nn

from analysis.train.modes import Plan, register_mode


@register_mode("scratch", "random weights, train everything (no cache)")
def plan_scratch(model, spec, config) -> Plan:
    return Plan(frozen=nn.Identity(), trainable=model, pooled=False,
                param_groups=[{"params": list(model.parameters())}], optimizer="adam",
                cacheable=False, weights="random", defaults={"lr": 1e-3, "epochs": 30, "patience": 6})
