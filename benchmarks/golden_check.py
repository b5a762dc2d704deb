"""Golden check: the same commands give the same artefacts before and after a refactor.

    python benchmarks/golden_check.py build OUT [--places-weights DIR]
    python benchmarks/golden_check.py compare BEFORE AFTER [--tolerance 1e-5]

``build`` runs, through the CLI only (the one interface a refactor must not change), in a
fresh folder OUT with fixed seeds:

  streetlens demo                                    dataset, runs, whole-dataset analysis
  streetlens reliability demo-efficientnet_lite0-finetune
  streetlens data scores --dataset demo --run demo-efficientnet_lite0-finetune   (with Places)

With ``--places-weights DIR`` (a folder holding ``wideresnet18_places365.pth.tar`` and
``categories_places365.txt``, e.g. from ``streetlens weights fetch``) the demo includes the
Places365 run and the curation scores run; without it both are left out.

``compare`` walks every file of BEFORE (datasets, runs, caches) and checks the same file
in AFTER: arrays (``.npy``/``.npz``) and state dicts bit for bit, else the largest absolute
difference; parquet tables and CSVs column by column; JSON with times, durations, dates and
the folder name left out; pictures pixel by pixel; anything else byte for byte. The caches'
manifests are bookkeeping, not results: their differences are listed (``metadata``) but do
not fail the check. It prints one line per file and exits 1 when a result file is missing
or differs by more than the tolerance.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: JSON keys whose values legitimately change from one build to the next.
VOLATILE_KEYS = {"seconds", "created", "computed", "time", "timings", "code_version", "cache_s",
                 "total_s", "train_s", "pid", "part_seconds"}
#: Columns of tables/CSVs that hold times or dates.
VOLATILE_COLUMNS = {"seconds", "time", "epoch_s", "imported", "created", "computed", "added"}


def run(cmd: list[str], env: dict, cwd: Path) -> float:
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, cwd=cwd)
    return time.perf_counter() - t0


def build(out: Path, places_weights: Path | None) -> None:
    out = out.resolve()
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty: build into a fresh folder")
    weights = out / "models" / "weights"
    weights.mkdir(parents=True)
    if places_weights:
        for f in Path(places_weights).iterdir():
            shutil.copy2(f, weights / f.name)
    env = {**os.environ, "STREETLENS_DATA": str(out / "data"), "STREETLENS_MODELS": str(out / "models"),
           "STREETLENS_CACHE": str(out / "cache"), "STREETLENS_WEIGHTS_DIR": str(weights)}
    exe = [sys.executable, "-m", "analysis.cli"]
    finetune = "demo-efficientnet_lite0-finetune"
    times = {"demo": run(exe + ["demo", "--places" if places_weights else "--no-places"], env, out),
             "reliability": run(exe + ["reliability", finetune], env, out)}
    if places_weights:
        times["scores"] = run(exe + ["data", "scores", "--dataset", "demo", "--run", finetune,
                                     "--no-progress-bar"], env, out)
    print("times (s):", {k: round(v) for k, v in times.items()})


# ---------------------------------------------------------------------------- compare
def _strip(obj, root: str):
    if isinstance(obj, dict):
        return {k: _strip(v, root) for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [_strip(v, root) for v in obj]
    if isinstance(obj, str):
        return obj.replace(root, "<ROOT>")
    return obj


def _json_paths(a, b, path: str = "") -> tuple[list[str], list[str]]:
    """(paths whose values differ or vanished, paths only ``b`` has)."""
    if isinstance(a, dict) and isinstance(b, dict):
        changed, added = [], [f"{path}/{k}" for k in b if k not in a]
        for k in a:
            if k not in b:
                changed.append(f"{path}/{k} (gone)")
            else:
                c, d = _json_paths(a[k], b[k], f"{path}/{k}")
                changed += c
                added += d
        return changed, added
    return ([] if a == b else [path or "/"]), []


def _array_diff(a: np.ndarray, b: np.ndarray) -> float | str:
    """0.0 when bit-identical, else the largest absolute difference (or why not comparable)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"shape/dtype {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    if a.dtype.kind in "fc":
        if np.array_equal(a, b, equal_nan=True):
            return 0.0
        return float(np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64))))
    return 0.0 if np.array_equal(a, b) else "values differ"


def _frame_diff(a: pd.DataFrame, b: pd.DataFrame, root_a: str, root_b: str) -> float | str:
    a = a.drop(columns=[c for c in a.columns if c in VOLATILE_COLUMNS])
    b = b.drop(columns=[c for c in b.columns if c in VOLATILE_COLUMNS])
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return f"columns/rows {list(a.columns)} × {len(a)} vs {list(b.columns)} × {len(b)}"
    worst = 0.0
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind in "fc" and y.dtype.kind in "fc":
            d = _array_diff(x.astype(np.float64), y.astype(np.float64))
        else:
            xs = [str(v).replace(root_a, "<ROOT>") for v in x]
            ys = [str(v).replace(root_b, "<ROOT>") for v in y]
            d = 0.0 if xs == ys else f"column {col!r} differs"
        if isinstance(d, str):
            return d
        worst = max(worst, d)
    return worst


def compare_file(fa: Path, fb: Path, root_a: str, root_b: str) -> float | str:
    suffix = fa.suffix.lower()
    if suffix == ".npy":
        return _array_diff(np.load(fa), np.load(fb))
    if suffix == ".npz":
        with np.load(fa) as za, np.load(fb) as zb:
            if sorted(za.files) != sorted(zb.files):
                return f"keys {sorted(za.files)} vs {sorted(zb.files)}"
            diffs = [_array_diff(za[k], zb[k]) for k in za.files]
        bad = [d for d in diffs if isinstance(d, str)]
        return bad[0] if bad else max(diffs, default=0.0)
    if suffix == ".parquet":
        return _frame_diff(pd.read_parquet(fa), pd.read_parquet(fb), root_a, root_b)
    if suffix == ".csv":
        return _frame_diff(pd.read_csv(fa), pd.read_csv(fb), root_a, root_b)
    if suffix in (".json", ".jsonl"):
        def load(p):
            text = p.read_text()
            return json.loads(text) if suffix == ".json" else [json.loads(x) for x in text.splitlines() if x]
        changed, added = _json_paths(_strip(load(fa), root_a), _strip(load(fb), root_b))
        if changed:
            return "JSON differs at " + ", ".join(changed[:6]) + (
                f"; new keys {', '.join(added[:6])}" + (" …" if len(added) > 6 else "") if added else "")
        return f"extended: {', '.join(added[:8])}" if added else 0.0
    if suffix == ".pt":
        import torch

        sa = torch.load(fa, map_location="cpu", weights_only=True)
        sb = torch.load(fb, map_location="cpu", weights_only=True)
        if list(sa) != list(sb):
            return "state dict keys differ"
        diffs = [_array_diff(sa[k].numpy(), sb[k].numpy()) for k in sa]
        bad = [d for d in diffs if isinstance(d, str)]
        return bad[0] if bad else max(diffs, default=0.0)
    if suffix in (".png", ".jpg", ".jpeg"):
        if fa.read_bytes() == fb.read_bytes():
            return 0.0
        from PIL import Image

        with Image.open(fa) as ia, Image.open(fb) as ib:
            return _array_diff(np.asarray(ia), np.asarray(ib))
    return 0.0 if fa.read_bytes() == fb.read_bytes() else "bytes differ"


def compare(before: Path, after: Path, tolerance: float) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from analysis.store import RunCache

    manifest = RunCache(before).manifest_path.name  # the caches' bookkeeping
    before, after = before.resolve(), after.resolve()
    files = sorted(p for p in before.rglob("*") if p.is_file() and "weights" not in p.parts
                   and not p.name.endswith((".lock", ".log", ".txt")))
    counts = {"identical": 0, "close": 0, "different": 0, "missing": 0, "extended": 0, "metadata": 0}
    for fa in files:
        rel = fa.relative_to(before)
        fb = after / rel
        if not fb.is_file():
            counts["missing"] += 1
            print(f"MISSING    {rel}")
            continue
        d = compare_file(fa, fb, str(before), str(after))
        if fa.name == manifest and d != 0.0:
            counts["metadata"] += 1
            print(f"metadata   {rel}: {d}")
            continue
        if isinstance(d, str) and d.startswith("extended"):
            counts["extended"] += 1
            print(f"extended   {rel}: {d[len('extended: '):]}")
            continue
        if d == 0.0:
            counts["identical"] += 1
            continue
        if isinstance(d, float) and d < tolerance:
            counts["close"] += 1
            print(f"close      {rel}: max abs difference {d:.3g}")
        else:
            counts["different"] += 1
            print(f"DIFFERENT  {rel}: {d}")
    extra = sorted(str(p.relative_to(after)) for p in after.rglob("*")
                   if p.is_file() and "weights" not in p.parts and not (before / p.relative_to(after)).exists()
                   and not p.name.endswith((".lock", ".log", ".txt")))
    for rel in extra:
        print(f"new        {rel}")
    print(f"{len(files)} files: {counts['identical']} bit-identical, {counts['close']} within "
          f"{tolerance:g}, {counts['extended']} JSON with new keys only, {counts['metadata']} manifests "
          f"with other bookkeeping, {counts['different']} different, {counts['missing']} missing; "
          f"{len(extra)} new in {after.name}")
    return 1 if counts["different"] or counts["missing"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("out", type=Path)
    b.add_argument("--places-weights", type=Path, default=None)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args(argv)
    if args.cmd == "build":
        build(args.out, args.places_weights)
        return 0
    return compare(args.before, args.after, args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
