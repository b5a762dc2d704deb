"""Transfer learning: the pretrained trunk stays frozen; only the two-head MLP learns.

Its input is the pooled feature vector, so the whole trunk is computed once (cached) and
every epoch costs microseconds per image."""

from __future__ import annotations

from analysis.train.modes import Plan, PooledHead, freeze, head_parameters, register_mode


@register_mode("transfer", "frozen pretrained trunk, train the head (cached trunk)")
def plan_transfer(model, spec, config) -> Plan:
    freeze(model.trunk)
    return Plan(frozen=model.trunk, trainable=PooledHead(model), pooled=True,
                param_groups=[{"params": head_parameters(model)}], optimizer="adam",
                defaults={"lr": 1e-3, "epochs": 40, "patience": 8})
