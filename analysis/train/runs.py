"""Runs on disk, ``models/<run>/`` (file layout: :class:`analysis.store.RunFiles`): the
model's state dict, its config, classes, groups, dataset fingerprint, code version and
metrics, and the training history. Loading never unpickles code: ``weights_only=True``
throughout.

Reading a run's record needs no PyTorch: the dashboard lists and opens runs on every page,
and importing torch with torchvision's models costs 3–7 s on a fresh server. Only building,
loading and saving a model import it, inside those functions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import pandas as pd

from analysis.classes import Labels
from analysis.store import RunFiles, default_models_root

if TYPE_CHECKING:
    import torch
    from torch import nn

    from analysis.nets.registry import BackboneSpec


class RunError(ValueError):
    """A run that cannot be found or loaded; the message says what to do."""


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("streetlens")
    except PackageNotFoundError:
        v = "unknown"
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{v}+{sha}" if sha else v


@dataclass
class Run:
    path: Path
    info: dict

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def labels(self) -> Labels:
        return Labels.from_json(self.info["labels"])

    @property
    def spec(self) -> BackboneSpec:
        from analysis.nets.registry import get_backbone

        return get_backbone(self.info["config"]["backbone"])

    @property
    def weights(self) -> str:
        return self.info["config"]["weights"]

    @property
    def files(self) -> RunFiles:
        return RunFiles(self.path)

    @property
    def input_size(self) -> int:
        return self.info["backbone"]["input_size"]

    def eval_transform(self):
        """PIL image → the tensor this run's model expects (no augmentation)."""
        from analysis.train.data import make_transform

        return make_transform(self.spec, self.weights, "none", self.input_size)

    def history(self) -> pd.DataFrame:
        p = self.files.history
        return pd.read_csv(p) if p.is_file() else pd.DataFrame()


def open_run(name_or_path: str | Path, models_root: Path | None = None) -> Run:
    text = str(name_or_path)
    path = Path(text) if ("/" in text or Path(text).is_dir()) else Path(models_root or default_models_root()) / text
    run_json = RunFiles(path).info
    if not run_json.is_file():
        known = ", ".join(r.name for r in list_runs(models_root)) or "none yet"
        raise RunError(f"no run at {path} (missing {run_json.name}); known runs: {known}")
    try:
        info = json.loads(run_json.read_text())
    except json.JSONDecodeError as exc:
        raise RunError(f"{run_json} is not valid JSON ({exc}); retrain the run") from exc
    return Run(path, info)


def list_runs(models_root: Path | None = None) -> list[Run]:
    runs = []
    for files in RunFiles.all_in(models_root or default_models_root()):
        try:
            runs.append(Run(files.root, json.loads(files.info.read_text())))
        except json.JSONDecodeError:
            continue
    return runs


def build_model(spec: BackboneSpec, head: str, labels: Labels, config: dict,
                weights: str) -> nn.Module:
    from analysis.nets.classifier import TwoHeadClassifier
    from analysis.train.svm import LinearTwoHead

    trunk = spec.build(weights)
    if head == "svm":
        return LinearTwoHead(trunk, spec.feature_channels, len(labels.classes), len(labels.groups))
    return TwoHeadClassifier(trunk, spec.feature_channels, len(labels.classes), len(labels.groups),
                             hidden=config.get("hidden", 256), dropout=config.get("dropout", 0.5))


def load_model(run: Run, device: str | torch.device = "cpu") -> nn.Module:
    """The run's classifier in eval mode, weights from its state dict (random init first,
    so no pretrained download is needed to reload)."""
    from analysis.nets.weights import load_state_dict_safely

    cfg = run.info["config"]
    model = build_model(run.spec, run.info.get("head", "mlp"), run.labels, cfg, "random")
    state = load_state_dict_safely(run.files.model)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RunError(f"{run.files.model} does not match backbone {cfg['backbone']} "
                       f"(missing {len(missing)}, unexpected {len(unexpected)} keys); retrain the run")
    return model.to(device).eval()


def save_run(target: Path, model: nn.Module, info: dict, history: pd.DataFrame,
             predictions: pd.DataFrame | None = None) -> Run:
    """Write the run into a temporary folder, then rename it into place (atomic: a crash
    never leaves a run that looks complete)."""
    import torch

    target = Path(target)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        files = RunFiles(tmp)
        torch.save(model.state_dict(), files.model)
        files.info.write_text(json.dumps(info, indent=2, default=str) + "\n")
        history.to_csv(files.history, index=False)
        if predictions is not None:
            predictions.to_csv(files.predictions, index=False)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Run(target, info)


def unique_run_name(root: Path, base: str) -> str:
    name, k = base, 2
    while (root / name).exists():
        name, k = f"{base}-{k}", k + 1
    return name


def comparison_table(runs: list[Run]) -> pd.DataFrame:
    """The study's table: one row per run, mode × backbone, both heads on val and test."""
    rows = []
    for r in runs:
        cfg, m = r.info["config"], r.info.get("metrics", {})

        def get(split, head, key="accuracy"):
            return m.get(split, {}).get(head, {}).get(key)

        rows.append({
            "run": r.name, "dataset": r.info.get("dataset", {}).get("name"),
            "backbone": cfg["backbone"], "weights": cfg["weights"], "mode": cfg["mode"],
            "val_city": get("val", "city"), "test_city": get("test", "city"),
            "test_city_f1": get("test", "city", "macro_f1"),
            "val_group": get("val", "group"), "test_group": get("test", "group"),
            "epochs": r.info.get("best_epoch"), "train_s": r.info.get("timings", {}).get("total_s"),
            "experiment": cfg.get("extra", {}).get("experiment"),  # None: a run of its own
        })
    return pd.DataFrame(rows)
