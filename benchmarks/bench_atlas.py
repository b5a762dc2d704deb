"""The activation atlas at a million images: the ``atlas`` stage, the figures the Atlas page
builds from its cells, and (with the demo's models on disk) the Atlas page itself.

    python benchmarks/bench_atlas.py --n 1000000 --channels 64
    python benchmarks/bench_atlas.py --n 1000000 --page     # also render the page (AppTest)

Writes a synthetic cache in a temporary folder: N images in 12 Gaussian clusters on the
UMAP plane, (N, C) float32 features (cluster centre + noise, written streaming), a samples
table (10 cities, predictions right 80 % of the time). Prints (a) the stage's time and the
process's peak memory before and after it, (b) the time to build each view's figure from
``atlas_cells`` (every zoom level over the whole plane, then single images over the whole
plane and over a small region: capped, sampled), (c) with ``--page`` the time of the Atlas
page's first and second run under Streamlit's AppTest, the 1M-image cache taking the
place of the demo run's analysis (its typical images are demo photos).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.precompute import atlas_views  # noqa: E402
from analysis.precompute.stages import atlas as stage  # noqa: E402
from analysis.store import RunCache  # noqa: E402
from dashboard.figures import activation_atlas as aa  # noqa: E402
from dashboard.figures import atlas as atlas_figures  # noqa: E402

CLASSES = ("beijing", "kyoto", "london", "moscow", "nyc", "paris", "seoul", "singapore", "tokyo", "vancouver")
DEMO = Path("/tmp/demo")
DEMO_RUN = "demo-efficientnet_lite0-finetune"


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthesize(cache: RunCache, n: int, channels: int, paths: list[str], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    k = 12
    centres = rng.normal(size=(k, 2)) * 8
    cluster = rng.integers(0, k, n)
    xy = centres[cluster] + rng.normal(size=(n, 2))
    y_class = (cluster + (rng.random(n) < 0.3) * rng.integers(0, len(CLASSES), n)) % len(CLASSES)
    correct = rng.random(n) < 0.8
    pred = np.where(correct, y_class, (y_class + 1 + rng.integers(0, len(CLASSES) - 1, n)) % len(CLASSES))
    ids = pd.array([f"{i:016x}" for i in range(n)], dtype="string")
    cls = np.array(CLASSES)
    cache.write_table("samples", pd.DataFrame({
        "row": np.arange(n), "id": ids, "path": pd.array(np.array(paths)[np.arange(n) % len(paths)], dtype="string"),
        "class": cls[y_class], "group": "East", "split": np.array(["train", "val", "test"])[rng.integers(0, 3, n)],
        "y_class": y_class, "y_group": 0, "pred_class": cls[pred], "pred_group": "East",
        "p_pred": rng.uniform(0.3, 1.0, n).astype(np.float32), "p_true": np.float32(0.5),
        "p_group": np.float32(0.9), "margin": np.float32(0.2), "correct": correct, "correct_group": True}))
    cache.write_table("umap", pd.DataFrame({"row": np.arange(n), "id": ids, "x": xy[:, 0], "y": xy[:, 1]}))
    fcent = rng.normal(size=(k, channels)).astype(np.float32) * 3
    out = cache.streaming("features", (n, channels), "float32", {"bench": seed})
    for a in range(0, n, 100_000):
        b = min(n, a + 100_000)
        out.write(a, fcent[cluster[a:b]] + rng.normal(size=(b - a, channels)).astype(np.float32))
    out.finish()


def time_figures(cache: RunCache, repeat: int = 3) -> None:
    cells = cache.table("atlas_cells")
    splits = ["train", "val", "test"]
    whole = atlas_views.whole(cells)
    for level in atlas_views.levels(cells):
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            shown = atlas_views.visible(cells, level, None)
            keys, shares = aa.cell_keys(shown, "class", CLASSES, splits)
            order, palette = atlas_figures.color_scheme("class", keys, CLASSES)
            colors = [palette[k] for k in keys]
            picture = aa.mosaic(shown, whole, colors, shares)
            fig = aa.atlas_figure(shown, whole, picture, colors, {k: palette[k] for k in order}, CLASSES)
            best = min(best, time.perf_counter() - t)
        print(f"  atlas {level:>2} x {level:<2} {len(shown):>5} cells: figure {best * 1000:7.1f} ms "
              f"({len(fig.data[0].x)} markers)")
    x0, x1, y0, y1 = whole
    small = (x0 + (x1 - x0) * 0.45, x0 + (x1 - x0) * 0.5, y0 + (y1 - y0) * 0.45, y0 + (y1 - y0) * 0.5)
    for name, window in (("whole plane", None), ("1/20 of the side", small)):
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            region = atlas_views.region_points(cache, cells, window, 20_000)
            keys = aa.point_keys(region.points, "class", CLASSES, splits)
            order, palette = atlas_figures.color_scheme("class", keys, CLASSES)
            bins = atlas_views.visible(cells, atlas_views.levels(cells)[-1], window) if region.sampled else None
            fig = aa.points_figure(region.points, keys, order, palette, CLASSES, splits, window or whole, bins=bins)
            best = min(best, time.perf_counter() - t)
        shown = sum(len(t.x) for t in fig.data if t.type == "scattergl")
        print(f"  images over {name:<17}: {region.total:>8,} images, {shown:>6,} points drawn"
              f"{' (sampled, over the bins)' if region.sampled else ''}: {best * 1000:7.1f} ms")


def time_page(cache: RunCache, tmp: Path) -> None:
    """The Atlas page under AppTest with this cache as the demo run's analysis."""
    from streamlit.testing.v1 import AppTest

    demo_cache = DEMO / "cache" / DEMO_RUN
    manifest = json.loads((demo_cache / Path(RunCache(demo_cache).manifest_path).name).read_text())
    manifest["stages"] = {s: {"done": True} for s in ("forward", "map")}
    manifest["stages"]["atlas"] = cache.stage_record("atlas")
    manifest["artefacts"] = cache.manifest.get("artefacts", {})
    manifest["n_images"] = int(len(cache.table("umap")))
    cache.manifest = manifest
    cache.save_manifest()
    os.environ.update(STREETLENS_MODELS=str(DEMO / "models"), STREETLENS_DATA=str(DEMO / "data"),
                      STREETLENS_CACHE=str(cache.root.parent))
    for query in ({}, {"zoom": "64"}, {"zoom": "images"}):
        at = AppTest.from_file(str(ROOT / "dashboard" / "app_pages" / "atlas.py"), default_timeout=600)
        for k, v in query.items():
            at.query_params[k] = v
        t = time.perf_counter()
        at.run()
        first = time.perf_counter() - t
        t = time.perf_counter()
        at.run()
        second = time.perf_counter() - t
        problems = [e.message for e in at.exception] + [e.value for e in at.error]
        print(f"  page {json.dumps(query):<20} first run {first:5.2f} s, second {second:5.2f} s"
              + (f"  PROBLEMS: {problems}" if problems else ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--page", action="store_true", help="also run the Atlas page (needs /tmp/demo)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_atlas_"))
    try:
        cache = RunCache(tmp / "cache" / DEMO_RUN)
        paths = ["img.png"]
        if args.page and (DEMO / "cache" / DEMO_RUN).is_dir():
            paths = RunCache(DEMO / "cache" / DEMO_RUN).table("samples")["path"].astype(str).tolist()
        t = time.perf_counter()
        synthesize(cache, args.n, args.channels, paths)
        print(f"synthetic cache: {args.n:,} images × {args.channels} features in {time.perf_counter() - t:.1f} s "
              f"(peak memory so far {peak_mb():.0f} MB)")
        t = time.perf_counter()
        grid, splits = stage.build(cache, CLASSES)
        cache.write_array("atlas_means", grid.means)
        cache.write_array("atlas_points", grid.points)
        cache.write_table("atlas_cells", grid.cells)
        cache.path("atlas_featvis").mkdir(parents=True, exist_ok=True)
        seconds = time.perf_counter() - t
        cache.manifest.setdefault("stages", {})["atlas"] = {"done": True, "splits": list(splits)}
        cache.record_artefacts(stage.STAGE.writes)
        print(f"(a) atlas stage: {seconds:.2f} s for {len(grid.cells):,} cells "
              f"(peak memory of the process {peak_mb():.0f} MB)")
        print("(b) figures from atlas_cells (best of 3):")
        time_figures(cache)
        if args.page:
            print("(c) the Atlas page (AppTest, the whole page: map, mean Grad-CAM and concepts sections):")
            time_page(cache, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
