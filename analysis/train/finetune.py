"""Fine-tuning: the backbone's last block(s) and the head learn, the rest stays frozen.

The study's best model fine-tuned VGG16-Places365's last conv block with SGD, momentum
and a small learning rate; the head, starting from random weights, gets 10× that rate.
The frozen prefix's output is cached, so only the last block runs every epoch."""

from __future__ import annotations

from analysis.train.modes import Plan, TailHead, freeze, head_parameters, register_mode


@register_mode("finetune", "train the backbone's last block + head (SGD, cached prefix)")
def plan_finetune(model, spec, config) -> Plan:
    frozen, tail = spec.split(model.trunk)
    freeze(frozen)
    last = spec.last_block_parameters(model.trunk)
    for p in last:
        p.requires_grad_(True)
    return Plan(frozen=frozen, trainable=TailHead(tail, model), pooled=False,
                param_groups=[{"params": last}, {"params": head_parameters(model), "lr_scale": 10.0}],
                optimizer="sgd", defaults={"lr": 1e-3, "epochs": 20, "patience": 5})
