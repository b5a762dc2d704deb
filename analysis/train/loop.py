"""The epoch loop shared by every gradient-trained mode.

Batches come from a *source*: either a cached array of frozen outputs or images run
through the frozen part live. Both visit rows in the same seeded order, so with
augmentation off a cached and an uncached run train the same model.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from analysis.nets.classifier import two_head_loss
from analysis.nets.precision import autocast
from analysis.progress import bar as progress_bar

Source = Callable[[np.ndarray, int], torch.Tensor]  # (row indices, epoch) → trainable input


@dataclass
class Split:
    """One split's inputs and targets."""

    source: Source
    y_class: np.ndarray
    y_group: np.ndarray

    def __len__(self) -> int:
        return len(self.y_class)

    def subset(self, positions: np.ndarray) -> "Split":
        """The rows at ``positions`` (a training fraction) over the same source, so the
        cached frozen outputs of the whole split serve every fraction."""
        positions = np.asarray(positions)
        return Split(lambda idx, epoch: self.source(positions[np.asarray(idx)], epoch),
                     self.y_class[positions], self.y_group[positions])


@dataclass
class FitResult:
    history: list[dict]
    best_epoch: int
    best_state: dict
    seconds: float


def batches(n: int, batch_size: int, rng: np.random.Generator | None):
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


@torch.no_grad()
def evaluate(trainable: nn.Module, split: Split, batch_size: int, loss_weights,
             device: torch.device) -> dict:
    """Loss, accuracies and predictions of ``trainable`` on ``split`` (eval mode)."""
    was = trainable.training
    trainable.eval()
    logits_c, logits_g = [], []
    for idx in batches(len(split), batch_size, None):
        c, g = trainable(split.source(idx, 0).to(device))
        logits_c.append(c.float().cpu())
        logits_g.append(g.float().cpu())
    trainable.train(was)
    c, g = torch.cat(logits_c), torch.cat(logits_g)
    yc, yg = torch.from_numpy(split.y_class), torch.from_numpy(split.y_group)
    loss = float(two_head_loss((c, g), yc, yg, loss_weights))
    return {"loss": loss, "city_acc": float((c.argmax(1) == yc).float().mean()),
            "group_acc": float((g.argmax(1) == yg).float().mean()),
            "class_logits": c, "group_logits": g}


def fit(
    trainable: nn.Module, optimizer: torch.optim.Optimizer, train: Split, val: Split, *,
    epochs: int, patience: int, batch_size: int, loss_weights=(1.0, 0.5), seed: int = 0,
    device: torch.device = torch.device("cpu"), progress: bool = True,
    state_of: Callable[[], dict] | None = None, precision: str = "fp32",
) -> FitResult:
    """Train with early stopping on validation city accuracy (ties: lower val loss);
    keep the best state. ``state_of`` returns what to snapshot (default: trainable).
    ``precision`` "bf16": the training forward/backward under bfloat16 autocast (weights,
    gradients and optimiser state stay fp32); validation always runs in fp32, so the
    chosen epoch and the reported metrics are those of the model as saved."""
    state_of = state_of or trainable.state_dict
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    history: list[dict] = []
    best = (-1.0, float("inf"))
    best_epoch, best_state, waited = 0, copy.deepcopy(state_of()), 0
    started = time.perf_counter()
    bar = progress_bar(range(1, epochs + 1), desc="epochs", unit="epoch", disable=not progress)
    for epoch in bar:
        t0 = time.perf_counter()
        trainable.train()
        total, correct, seen = 0.0, 0, 0
        for idx in batches(len(train), batch_size, rng):
            x = train.source(idx, epoch).to(device)
            yc = torch.from_numpy(train.y_class[idx]).to(device)
            yg = torch.from_numpy(train.y_group[idx]).to(device)
            with autocast(device, precision):
                out = trainable(x)
            out = tuple(o.float() for o in out)
            loss = two_head_loss(out, yc, yg, loss_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out[0].argmax(1) == yc).sum())
            seen += len(idx)
        ev = evaluate(trainable, val, batch_size, loss_weights, device)
        row = {"epoch": epoch, "train_loss": total / max(seen, 1), "train_city_acc": correct / max(seen, 1),
               "val_loss": ev["loss"], "val_city_acc": ev["city_acc"], "val_group_acc": ev["group_acc"],
               "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
        history.append(row)
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_acc=f"{row['val_city_acc']:.3f}",
                        val_group=f"{row['val_group_acc']:.3f}")
        score = (ev["city_acc"], -ev["loss"])
        if score > (best[0], -best[1]):
            best, best_epoch, waited = (ev["city_acc"], ev["loss"]), epoch, 0
            best_state = copy.deepcopy(state_of())
        else:
            waited += 1
            if waited >= patience:
                break
    return FitResult(history, best_epoch, best_state, time.perf_counter() - started)
