"""An experiment: the study's grid of runs (backbones × modes × training fractions ×
seeds) on one dataset, kept as ``models/experiments/<name>.json`` so that its runs are
grouped, and so that a rerun of the same command knows what is left to train."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from analysis.store import experiment_file, experiment_files, write_json_atomic

MODES = ("svm", "transfer", "finetune", "scratch")


class ExperimentError(ValueError):
    """A grid that cannot be run as asked (one line for the user)."""


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    backbone: str
    mode: str
    fraction: float
    seed: int

    @property
    def config(self) -> str:
        """The grid point without the seed: what the seeds of a row repeat."""
        return f"{self.backbone} · {self.mode}"

    def run_name(self, experiment: str) -> str:
        return f"{experiment}-{self.backbone}-{self.mode}-f{round(self.fraction * 100):03d}-s{self.seed}"


@dataclass
class Experiment:
    name: str
    dataset: str
    backbones: tuple[str, ...]
    modes: tuple[str, ...]
    fractions: tuple[float, ...] = (1.0,)
    seeds: tuple[int, ...] = (0, 1, 2)
    train: dict = field(default_factory=dict)  # extra TrainConfig fields (epochs, batch_size …)

    def __post_init__(self):
        self.backbones, self.modes = tuple(self.backbones), tuple(self.modes)
        self.fractions = tuple(float(f) for f in self.fractions)
        self.seeds = tuple(int(s) for s in self.seeds)
        check_name(self.name)
        for label, values in (("backbones", self.backbones), ("modes", self.modes),
                              ("fractions", self.fractions), ("seeds", self.seeds)):
            if not values:
                raise ExperimentError(f"an experiment needs at least one of {label}")
            if len(set(values)) != len(values):
                raise ExperimentError(f"{label} repeat a value: {', '.join(map(str, values))}")
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise ExperimentError(f"unknown mode {', '.join(bad)}; choose from {', '.join(MODES)}")
        bad = [f for f in self.fractions if not 0 < f <= 1]
        if bad:
            raise ExperimentError(f"fractions must be in (0, 1], got {', '.join(map(str, bad))}")

    def cells(self) -> list[Cell]:
        """Every run, the full-data ones first (they make the comparison table), then by
        backbone, mode, fraction and seed."""
        cells = [Cell(b, m, f, s) for f in sorted(self.fractions, reverse=True)
                 for b in self.backbones for m in self.modes for s in self.seeds]
        return cells

    def run_names(self) -> list[str]:
        return [c.run_name(self.name) for c in self.cells()]

    # ---------------------------------------------------------------- on disk
    def save(self, models_root: Path | str) -> Path:
        path = experiment_file(models_root, self.name)
        write_json_atomic(path, asdict(self))
        return path

    @classmethod
    def load(cls, models_root: Path | str, name: str) -> Experiment:
        path = experiment_file(models_root, name)
        if not path.is_file():
            known = ", ".join(p.stem for p in experiment_files(models_root)) or "none yet"
            raise ExperimentError(f"no experiment {name!r} under {models_root} (known: {known})")
        try:
            return cls(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ExperimentError(f"{path} is not a readable experiment ({exc}); run the "
                                  "`streetlens experiment` command again") from exc


def list_experiments(models_root: Path | str) -> list[Experiment]:
    """Every readable experiment under ``models_root`` (an unreadable file is skipped)."""
    out = []
    for path in experiment_files(models_root):
        try:
            out.append(Experiment.load(models_root, path.stem))
        except ExperimentError:
            continue
    return out


def check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}", name or ""):
        raise ExperimentError(f"experiment name {name!r}: use letters, digits, '-', '_' or '.'")


def parse_list(text: str, kind=str, what: str = "values") -> tuple:
    """``"a, b"`` → ``("a", "b")`` (converted by ``kind``); a one-line error otherwise."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        return tuple(kind(p) for p in parts)
    except ValueError:
        raise ExperimentError(f"cannot read {what} from {text!r}: expected a comma-separated list") from None


def cell_of(run_info: dict) -> Cell | None:
    """The grid cell a run belongs to (from its config), or None for a run outside any grid."""
    cfg = run_info.get("config", {})
    if not cfg.get("extra", {}).get("experiment"):
        return None
    return Cell(cfg["backbone"], cfg["mode"], float(cfg.get("train_fraction", 1.0)), int(cfg["seed"]))
