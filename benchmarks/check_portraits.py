"""Do the portraits hold on the demo? Two measured checks, printed as tables.

    python benchmarks/check_portraits.py [RUN] [--models-root M] [--cache-root C] [--random 200]

1. Names: every lead card of every city's portrait, its automatic name, the ground-truth
   cue it overlaps best *on that city's photos* (IoU of its maps with the cue masks), its
   effect and stability; and the share of cards overlapping a cue (IoU ≥ 0.1, the Portrait
   page's threshold) that carry that cue's name.
2. Causal effect: removing the city's top-3 concepts (ranked on the validation split)
   from its test photos' activations, against removing 3 random concepts (``--random``
   draws per image), with 95 % bootstrap intervals over the photos, and their ratio.

Reads an analysed run's cache (the demo's fine-tuned EfficientNet-Lite0 by default);
writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.explain.concepts.effect import bootstrap_mean, concept_means, head_outputs  # noqa: E402
from analysis.precompute import concept_views  # noqa: E402
from analysis.precompute.stage import all_stages  # noqa: E402
from analysis.store import RunCache, default_cache_root  # noqa: E402
from analysis.train.runs import load_model, open_run  # noqa: E402

CUE_IOU = 0.1


def name_table(cache: RunCache, classes: list[str]) -> pd.DataFrame:
    cues = cache.table("concept_city_cues")
    rows = []
    for city in classes:
        for card in concept_views.portrait(cache, city, given={}).cards:
            cue = cues[(cues["concept"] == card.concept) & (cues["target"] == city)]
            best, iou = (str(cue["cue"].iloc[0]), float(cue["iou"].iloc[0])) if len(cue) else ("-", 0.0)
            rows.append({"city": city, "concept": card.concept, "automatic name": card.name.label,
                         "source": card.name.source, "best cue here": best, "IoU": round(iou, 3),
                         "overlaps": iou >= CUE_IOU, "named so": card.name.label == best,
                         "effect": f"{card.effect:.3f} [{card.low:.3f}, {card.high:.3f}]",
                         "clear": card.clear, "stability": f"{card.came_back}/{card.refits}"})
    return pd.DataFrame(rows)


def removal_table(cache: RunCache, model, classes: list[str], draws: int, seed: int = 0) -> pd.DataFrame:
    samples = cache.samples()
    components, _ = cache.read_concept_basis()
    W = np.asarray(components, dtype=np.float64)
    k = len(W)
    means = concept_means(cache.concept_maps())
    feats = np.asarray(cache.features(), dtype=np.float64)
    eff = cache.table("concept_effects")
    rng = np.random.default_rng(seed)
    rows = []
    for ti, city in enumerate(classes):
        idx = np.flatnonzero((samples["split"] == "test").to_numpy() & (samples["y_class"] == ti).to_numpy())
        if not idx.size:
            continue
        val = eff[(eff["split"] == "val") & (eff["target"] == city)].sort_values("effect", ascending=False)
        top = val["concept"].head(3).tolist()
        f, m = feats[idx], means[idx]
        _, p0 = head_outputs(model, f)
        _, p_top = head_outputs(model, f - m[:, top] @ W[top])
        subsets = [rng.choice(k, 3, replace=False) for _ in range(draws)]
        removed = np.concatenate([f - m[:, s] @ W[s] for s in subsets])
        _, p_rand = head_outputs(model, removed)
        drop_top = p0[:, ti] - p_top[:, ti]
        drop_rand = (p0[:, ti][None] - p_rand[:, ti].reshape(draws, len(idx))).mean(0)
        t, tl, th = bootstrap_mean(drop_top, seed=seed + ti)
        r, rl, rh = bootstrap_mean(drop_rand, seed=seed + 100 + ti)
        rows.append({"city": city, "images": int(idx.size), "top-3": f"{t:.3f} [{tl:.3f}, {th:.3f}]",
                     "random 3": f"{r:.3f} [{rl:.3f}, {rh:.3f}]", "top": t, "random": r,
                     "ratio": t / r if r > 0 else float("inf"), "≥ 2×": t >= 2 * r})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", nargs="?", default="demo-efficientnet_lite0-finetune")
    ap.add_argument("--models-root", type=Path, default=None)
    ap.add_argument("--cache-root", type=Path, default=None)
    ap.add_argument("--random", type=int, default=200, help="random 3-concept subsets per image")
    args = ap.parse_args()
    all_stages()
    run = open_run(args.run, args.models_root)
    cache = RunCache.for_run(run.name, args.cache_root or default_cache_root())
    classes = list(run.labels.classes)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)

    names = name_table(cache, classes)
    print(names.to_string(index=False))
    over = names[names["overlaps"]]
    print(f"\ncards overlapping a cue on their city's photos (IoU ≥ {CUE_IOU}): {len(over)} of {len(names)}; "
          f"named after that cue: {int(over['named so'].sum())} = {over['named so'].mean():.0%}")
    clear = over[over["clear"]]
    print(f"  of them with a clear effect: {int(clear['named so'].sum())} of {len(clear)} = {clear['named so'].mean():.0%}")

    model = load_model(run, "cpu")
    removal = removal_table(cache, model, classes, args.random)
    print("\nmean drop of P(city) on its test photos, 95 % bootstrap interval over the photos")
    print(removal.drop(columns=["top", "random"]).to_string(index=False))
    print(f"\nall cities: top-3 {removal['top'].mean():.3f} vs random-3 {removal['random'].mean():.3f} "
          f"(ratio {removal['top'].mean() / removal['random'].mean():.1f}); "
          f"≥ 2× in {int(removal['≥ 2×'].sum())} of {len(removal)} cities")


if __name__ == "__main__":
    main()
