"""``reliability`` (opt-in: ``streetlens reliability RUN``): can the maps the dashboard
shows be trusted?

Needs the ``forward`` stage (``samples`` for correctness, ``cams`` for Grad-CAM on every
test image). Writes

* ``reliability`` — long form, one row per number: ``check`` (randomization,
  faithfulness, localization), ``metric``, ``method``, ``mode`` (cascade / independent),
  ``step``, ``layer``, ``milestone``, ``subset`` (correct / all), ``class``, ``value``
  (mean), ``std``, ``n`` (images behind the mean);
* ``reliability_curves`` — the mean deletion/insertion curves: ``kind, method,
  step, fraction, value, std, n``.

Sizes and cost (defaults; all in ``AnalyzeConfig.reliability_*``). Every randomisation
step (two schedules × 11 layer groups for EfficientNet-Lite0) recomputes every method's
maps on the randomised copy, so the sample is small: ``reliability_images`` = 8 correctly
classified test images, one per class in turn (seeded), for Grad-CAM, gradient, guided
backprop and guided Grad-CAM; integrated gradients — ``reliability_ig_steps`` = 8
forward+backward passes per image and step, more than the other four together — on the
first ``reliability_ig_images`` = 4 of them. Faithfulness reuses the trained model's maps
of the same images (20 steps, 3 random orders: 8 orders × 2 curves × 19 steps ≈ 300
forward passes per image, batched). Localisation scores Grad-CAM on every test image from
the forward stage's cached maps and the other methods on ``reliability_loc_images`` = 30
test images (3 per class, correct or not). Measured for EfficientNet-Lite0 at 224 px on
the shared 2-core CPU: see the README; about 4–5 minutes when the machine is idle.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from analysis.explain.reliability import faithfulness as fa
from analysis.explain.reliability import localization as lo
from analysis.explain.reliability import randomization as ra
from analysis.explain.reliability.maps import MapSettings, compute_maps, parse_methods
from analysis.explain.reliability.sampling import choose_sample, long_form
from analysis.explain.targets import Target
from analysis.precompute.stage import Stage
from analysis.progress import bar

HEAVY = ("integrated_gradients", "occlusion")
"""Methods whose cost is many passes per image: run on the first ``reliability_ig_images``."""


def _split(methods) -> tuple[list[str], list[str]]:
    return [m for m in methods if m not in HEAVY], [m for m in methods if m in HEAVY]


def run(ctx) -> dict:
    """Randomisation sanity check, deletion/insertion faithfulness and (on annotated demo
    data) pointing game and energy inside the cues, for the dashboard's methods."""
    cfg = ctx.config
    spec = ctx.run.spec
    samples = ctx.cache.table("samples")
    y_all = samples["y_class"].to_numpy()
    methods = parse_methods(cfg.reliability_methods)
    light, heavy = _split(methods)
    settings = MapSettings(target_layer=spec.target_layer, mean_std=spec.mean_std(ctx.run.weights),
                           ig_steps=cfg.reliability_ig_steps, batch_size=cfg.batch_size)
    modes = tuple(m.strip() for m in cfg.reliability_modes.split(",") if m.strip())
    model = ctx.model.eval()
    timings: dict[str, float] = {}
    info: dict = {"methods": list(methods)}

    rows = choose_sample(samples, cfg.reliability_images, cfg.seed)
    if len(rows) == 0:
        raise ValueError("no images to check: the dataset has no usable rows")
    k = min(cfg.reliability_ig_images, len(rows)) if heavy else 0
    x = ctx.load_images(rows)
    target = Target("city", tuple(int(v) for v in y_all[rows]))
    target_k = Target("city", target.index[:k])
    info.update(images=len(rows), heavy_images=k, sample_rows=[int(r) for r in rows],
                sample_correct=int(samples.set_index("row").loc[rows, "correct"].sum()))

    # -- trained model's maps ------------------------------------------------------
    t0 = time.perf_counter()
    original = compute_maps(model, x, target, light, settings) if light else {}
    original_heavy = compute_maps(model, x[:k], target_k, heavy, settings) if heavy and k else {}
    timings["maps"] = time.perf_counter() - t0

    # -- 1. model-parameter randomisation ------------------------------------------
    t0 = time.perf_counter()
    n_steps = sum(len(ra.randomization_steps(model, m)) for m in modes) * (bool(light) + bool(original_heavy))
    parts = []
    with bar(total=n_steps, desc="randomisation check", unit="step", disable=not ctx.progress) as progress:
        def tick(step):
            progress.set_postfix_str(f"{step.mode} {step.layer}")
            progress.update()

        if light:
            parts.append(ra.randomization_test(model, x, target, light, settings, modes=modes, seed=cfg.seed,
                                               original=original, progress=tick))
        if original_heavy:
            parts.append(ra.randomization_test(model, x[:k], target_k, heavy, settings, modes=modes,
                                               seed=cfg.seed, original=original_heavy, progress=tick))
    milestones = ra.milestone_steps(model, spec.last_block)
    randomization = ra.summarize(pd.concat(parts, ignore_index=True), milestones)
    timings["randomization"] = time.perf_counter() - t0
    info["milestones"] = milestones
    info["layers"] = [name for name, _ in ra.layer_groups(model)]

    # -- 2. deletion / insertion ---------------------------------------------------
    t0 = time.perf_counter()
    with bar(total=len(rows) + k, desc="deletion/insertion", unit="img", disable=not ctx.progress) as progress:
        curves = [fa.perturbation_curves(model, x, target, original, steps=cfg.reliability_steps,
                                         baseline=cfg.reliability_baseline,
                                         random_orders=cfg.reliability_random_orders, seed=cfg.seed,
                                         batch_size=max(cfg.batch_size, 32), progress=lambda i: progress.update())]
        if original_heavy:
            curves.append(fa.perturbation_curves(model, x[:k], target_k, original_heavy,
                                                 steps=cfg.reliability_steps, baseline=cfg.reliability_baseline,
                                                 random_orders=0, seed=cfg.seed,
                                                 batch_size=max(cfg.batch_size, 32),
                                                 progress=lambda i: progress.update()))
    faith, mean_curves = fa.summarize(pd.concat(curves, ignore_index=True))
    timings["faithfulness"] = time.perf_counter() - t0

    # -- 3. ground-truth localisation ----------------------------------------------
    t0 = time.perf_counter()
    loc = localization(ctx, samples, methods, settings, {"rows": rows, **original},
                       {"rows": rows[:k], **original_heavy}, info)
    timings["localization"] = time.perf_counter() - t0

    table = pd.concat([long_form(randomization, "randomization"), long_form(faith, "faithfulness"),
                       *([long_form(loc, "localization")] if loc is not None else [])], ignore_index=True)
    ctx.cache.write_table("reliability", table)
    ctx.cache.write_table("reliability_curves", mean_curves)
    info["part_seconds"] = {key: round(v, 1) for key, v in timings.items()}
    return info


def localization(ctx, samples: pd.DataFrame, methods, settings: MapSettings,
                 known: dict, known_heavy: dict, info: dict) -> pd.DataFrame | None:
    """Pointing game and energy on the test split; None (and a note in ``info``) when
    the dataset has no cue annotations."""
    from analysis.data.synth import load_cues

    cfg = ctx.config
    test = samples[samples["split"] == "test"]
    if test.empty:
        test = samples
    paths = ctx.rows["path"].to_numpy()
    masks: dict[int, np.ndarray | None] = {}
    try:
        for r, cls in zip(test["row"], test["class"]):
            masks[int(r)] = lo.class_mask(load_cues(ctx.dataset.root, paths[r]), cls)
    except FileNotFoundError:
        info["localization"] = "no cue annotations (only procedural demo data has them)"
        return None
    size = ctx.run.info["backbone"]["input_size"]
    by_row = test.set_index("row")
    scores = []

    def score(method_maps: dict[str, np.ndarray], rows) -> None:
        rows = list(rows)
        mlist = [masks[r] for r in rows]
        scores.append(lo.score_images(method_maps, mlist, by_row.loc[rows, "class"].tolist(),
                                      by_row.loc[rows, "correct"].tolist(), cfg.reliability_tolerance, rows))

    if "gradcam" in methods:  # every test image, from the forward stage's raw maps
        from analysis.explain.scaling import upsample

        cams = ctx.cache.array("cams")
        test_rows = test["row"].to_numpy()
        ys = test["y_class"].to_numpy()
        for a in range(0, len(test_rows), 64):
            rr = test_rows[a:a + 64]
            raw = np.asarray(cams[rr, ys[a:a + 64]], np.float32)
            score({"gradcam": upsample(np.clip(raw, 0, None), (size, size))}, rr)
    others = [m for m in methods if m != "gradcam"]
    if others:
        loc_rows = choose_sample(test, cfg.reliability_loc_images, cfg.seed + 1, split=None,
                                 correct_only=False)
        light, heavy = _split(others)
        todo = [(light, known, loc_rows), (heavy, known_heavy, loc_rows)]
        with bar(total=len(loc_rows), desc="localisation maps", unit="img", disable=not ctx.progress) as progress:
            for group, have, want in todo:
                if not group:
                    continue
                have_rows = [int(r) for r in have.get("rows", [])]
                reuse = [r for r in want if r in have_rows]
                if reuse:
                    idx = [have_rows.index(r) for r in reuse]
                    score({m: have[m][idx] for m in group if m in have}, reuse)
                new = [int(r) for r in want if r not in have_rows]
                for a in range(0, len(new), settings.batch_size):
                    chunk = np.asarray(new[a:a + settings.batch_size])
                    target = Target("city", tuple(int(v) for v in by_row.loc[chunk, "y_class"]))
                    score(compute_maps(ctx.model, ctx.load_images(chunk), target, group, settings), chunk)
                    if group is light:
                        progress.update(len(chunk))
        info["localization_images"] = {"gradcam": int(len(test)), "others": int(len(loc_rows))}
    info["excluded_no_cue"] = int(sum(m is None for m in masks.values()))
    return lo.summarize(pd.concat(scores, ignore_index=True))


STAGE = Stage(
    name="reliability", order=90, run=run, default=False, command="streetlens reliability {run}",
    params=("reliability_images", "reliability_ig_images", "reliability_ig_steps", "reliability_steps",
            "reliability_random_orders", "reliability_baseline", "reliability_loc_images",
            "reliability_tolerance", "reliability_methods", "reliability_modes", "seed"),
    doc="randomisation sanity check, deletion/insertion and pointing game, a verdict per method",
    reads=("samples", "cams"), writes=("reliability", "reliability_curves"),
)
