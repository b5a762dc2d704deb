"""A synthetic analysis of a million photos, in the store's format, that the dashboard accepts.

    python benchmarks/million_cache.py --template /tmp/sl-million/small --out /tmp/sl-million/big

``--template`` holds a small *real* analysis of the demo's EfficientNet-Lite0 finetune run
(``models/``, ``data/demo``, ``cache/``, as ``streetlens analyze`` wrote it; see
``bench_dashboard_million.py`` for how it is made). From it this writes, under ``--out``:

- ``data/million``: a dataset of N images whose paths point to the template's photos in
  rotation (the class folders are symbolic links), with its own ids and the template's
  classes and splits, so row ``i`` shows photo ``i mod 800``;
- ``models/million-efficientnet_lite0-finetune``: the template run (its checkpoint hard-linked)
  with its info naming that dataset and its fingerprint;
- ``cache/million-efficientnet_lite0-finetune``: the analysis, every array with the real
  shapes and dtypes of the template (1280 × 7 × 7 activations, 12 outputs …), written by the
  store's writers: the forward stage's shards through ``RunCache.shard_set`` and
  ``ShardSet.write`` (with the forward stage's own ``forward_layout`` and ``samples_part``),
  the other per-image arrays streaming (``RunCache.streaming``), the rest with
  ``write_array`` / ``write_table``; the atlas is built by the atlas stage's own ``build``.
  The manifest holds the template's stage records with the new model and dataset
  fingerprints, so the dashboard finds nothing stale.

Values: each image takes its rotated template image's values times a log-normal factor per
element (zeros stay zeros: activations keep their 90 % sparsity) plus, for signed arrays, a
little noise, so every image's row is distinct and compresses like the real thing. The UMAP
point is the template's plus jitter (the same clusters, a million points).

Hard links: activations (N, 1280, 7, 7) fp16, gradients and channel_attr (N, 12, 1280) fp16
would be about 16, 27 and 25 GB compressed at a million images (measured on the template:
16, 27 and 25 kB per image). Only the first ``--distinct`` shards (256 images each) of those
three are computed; every later full shard's file for them is a hard link to shard
``i mod distinct`` (zarr shard files hold no coordinates, so a linked shard reads as rows of
its own range). Every other array, and these three's first shards, are distinct per image.
Linked shards are committed with records like ``ShardSet.write``'s (sizes, CRCs, origin),
so ``streetlens analyze --verify`` accepts them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.data.dataset import Dataset, fingerprint  # noqa: E402
from analysis.precompute.engines.forward_work import forward_layout, samples_part  # noqa: E402
from analysis.precompute.stages import atlas as atlas_stage  # noqa: E402
from analysis.precompute.stages.concept_effects import contrast_table, why_table  # noqa: E402
from analysis.precompute.stages.forward import shard_summary  # noqa: E402
from analysis.store import RunCache, RunFiles, file_fingerprint, write_json_atomic  # noqa: E402
from analysis.store import chunked  # noqa: E402
from analysis.store.files import atomic_path  # noqa: E402
from analysis.train.runs import open_run  # noqa: E402

TEMPLATE_RUN = "demo-efficientnet_lite0-finetune"
RUN = "million-efficientnet_lite0-finetune"
DATASET = "million"
LINKED = ("activations", "gradients", "channel_attr")  # hard-linked beyond the distinct shards
FORWARD = "forward"
CHUNK = 16384  # rows per streamed block of the other per-image arrays


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def jitter(rng, values: np.ndarray, sigma: float = 0.25, noise: float = 0.0) -> np.ndarray:
    """Template rows made distinct: × log-normal per element (zeros stay zero), + noise."""
    v = values.astype(np.float32) * rng.lognormal(0.0, sigma, values.shape).astype(np.float32)
    if noise:
        v += rng.normal(0.0, noise, values.shape).astype(np.float32) * np.abs(values).mean()
    return v


# ------------------------------------------------------------------------ dataset and run
def make_dataset(template: Path, out: Path, n: int) -> tuple[Dataset, pd.DataFrame]:
    src = Dataset(template / "data" / "demo")
    ds = Dataset(out / "data" / DATASET)
    ds.root.mkdir(parents=True, exist_ok=True)
    rows = src.usable()
    for cls in rows["class"].unique():
        link = ds.root / cls
        if not link.exists():
            link.symlink_to((src.root / cls).resolve(), target_is_directory=True)
    for extra in (src.files.classes,):
        if Path(extra).is_file():
            shutil.copy(extra, ds.root / Path(extra).name)
    idx = np.arange(n) % len(rows)
    df = rows.iloc[idx].reset_index(drop=True).copy()
    ids = pd.array([f"{i:016x}" for i in range(n)], dtype="string")
    df["id"], df["group_id"], df["sha256"] = ids, ids, ids
    df["source"] = "synthetic: a million photos (benchmarks/million_cache.py)"
    ds.write(df)
    return ds, ds.usable()


def make_run(template: Path, out: Path, ds: Dataset, rows: pd.DataFrame):
    src = RunFiles(template / "models" / TEMPLATE_RUN)
    dst = RunFiles(out / "models" / RUN)
    dst.root.mkdir(parents=True, exist_ok=True)
    for f in src.root.iterdir():
        target = dst.root / f.name
        target.unlink(missing_ok=True)
        os.link(f, target) if f == src.model else shutil.copy(f, target)
    info = json.loads(src.info.read_text())
    info["name"] = info["config"]["name"] = RUN
    info["config"].update(dataset=str(ds.root), models_root=str(out / "models"), cache_root=str(out / "cache"))
    split = rows["split"].value_counts()
    info["dataset"] = {"name": DATASET, "path": str(ds.root), "fingerprint": fingerprint(rows), "n_images": len(rows),
                       **{f"n_{s}": int(split.get(s, 0)) for s in ("train", "val", "test")}}
    dst.info.unlink()
    write_json_atomic(dst.info, info)
    return open_run(dst.root)


# ------------------------------------------------------------------------ the forward shards
class Forward:
    """The forward stage's shards at N images, from the template's rows."""

    def __init__(self, cache: RunCache, small: RunCache, run, rows: pd.DataFrame, distinct: int, seed: int):
        self.cache, self.run, self.rows = cache, run, rows
        self.layout = forward_layout(run, len(rows), cache.shard_rows)
        made_from = {k: cache.manifest[k] for k in ("model_fingerprint", "dataset_fingerprint")}
        self.shards = cache.shard_set(FORWARD, self.layout, made_from)
        self.distinct = distinct
        self.seed = seed
        self.t = {name: np.asarray(small.array(name)) for name in
                  ("class_logits", "group_logits", "features", "cams", *LINKED)}
        self.m = len(self.t["features"])
        self._crc: dict = {}
        self._open: dict = {}

    def values(self, index: int, linked: bool) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, index])
        a, b = self.layout.bounds(index)
        idx = np.arange(a, b) % self.m
        out = {"class_logits": self.t["class_logits"][idx] + rng.normal(0, 0.4, (b - a, self.t["class_logits"].shape[1])),
               "group_logits": self.t["group_logits"][idx] + rng.normal(0, 0.4, (b - a, self.t["group_logits"].shape[1])),
               # rounded to fp16 precision (stored float32): compresses like a real pooled feature
               "features": jitter(rng, self.t["features"][idx]).astype(np.float16).astype(np.float32),
               "cams": jitter(rng, self.t["cams"][idx], 0.2, 0.05)}
        if not linked:
            out["activations"] = jitter(rng, self.t["activations"][idx])
            out["gradients"] = jitter(rng, self.t["gradients"][idx], 0.2, 0.05)
            out["channel_attr"] = jitter(rng, self.t["channel_attr"][idx], 0.2, 0.05)
        out = {k: v.astype(np.float32) for k, v in out.items()}
        samples, pc, pg = samples_part(self.rows.iloc[a:b], a, out["class_logits"], out["group_logits"], self.run)
        out["class_probs"], out["group_probs"] = pc, pg
        return {k: v.astype(self.layout.arrays[k][1]) for k, v in out.items()}, samples

    def write(self, index: int) -> None:
        a, b = self.layout.bounds(index)
        linked = index >= self.distinct and b - a == self.layout.rows
        arrays, samples = self.values(index, linked)
        if not linked:
            self.shards.write(index, arrays, {"samples": samples})
            return
        self.write_linked(index, arrays, samples, index % self.distinct)

    def write_linked(self, index: int, arrays: dict, samples: pd.DataFrame, source: int) -> None:
        """Shard ``index`` as ``ShardSet.write`` commits one, its LINKED arrays' files hard
        links to those of shard ``source`` (the store has no call for that yet)."""
        for name, values in arrays.items():
            if name not in self._open:
                self._open[name] = chunked.open_writable(self.shards.paths[name])
            chunked.write_shard(self._open[name], index, values)
        with atomic_path(self.shards.file_of("samples", index)) as tmp:
            samples.to_parquet(tmp, index=False)
        files = {}
        for name in LINKED:
            src, dst = self.shards.file_of(name, source), self.shards.file_of(name, index)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.unlink(missing_ok=True)
            os.link(src, dst)
            if src not in self._crc:
                self._crc[src] = list(chunked.checksum(src))
            files[name] = self._crc[src]
        for name in (*arrays, "samples"):
            files[name] = list(chunked.checksum(self.shards.file_of(name, index)))
        rec = {"index": index, "rows": list(self.layout.bounds(index)),
               "files": {k: files[k] for k in (*self.layout.arrays, *self.layout.tables)},
               "made_from": self.shards.made_from}
        write_json_atomic(self.shards.record_path(index), rec)

    def run_all(self) -> dict:
        self.shards.prepare()
        todo = self.shards.missing()
        t0 = time.perf_counter()
        for k, i in enumerate(todo):
            self.write(i)
            if k % 200 == 0:
                log(f"forward: shard {i + 1} of {self.layout.count} ({time.perf_counter() - t0:.0f} s)")
        records = self.shards.finish()
        c, h, w = self.layout.arrays["activations"][0][1:]
        return {"images": len(self.rows), "feature_map": [c, h, w], "from_trunk_cache": 0, "engine": "synthetic",
                "linked": {"arrays": list(LINKED), "distinct_shards": self.distinct},
                "shards": shard_summary(self.layout, records)}


# ------------------------------------------------------------------------ everything else
def expand_rows(small: pd.DataFrame, n: int, ids) -> pd.DataFrame:
    """A per-image table (one row per template image, with ``row``) at N images."""
    idx = np.arange(n) % len(small)
    out = small.set_index("row").loc[idx].reset_index(drop=True)
    out.insert(0, "row", np.arange(n))
    if "id" in out:
        out["id"] = ids
    return out


def other_artefacts(cache: RunCache, small: RunCache, n: int, ids, rows: pd.DataFrame, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = small.manifest["n_images"]
    small_ids = small.table_columns("samples", ["row", "id"]).set_index("id")["row"]
    for name, a in sorted(small.manifest["artefacts"].items()):
        if a["kind"] == "folder" or not small.has(name) or cache.has(name):
            continue
        if a["kind"] == "array":
            arr = small.array(name)
            if name == "neighbors":
                is_train = rows["split"].to_numpy()[:m] == "train"
                copies = n // m
                dst = cache.streaming(name, (n, arr.shape[1]), "int32", {"synthetic": seed})
                for s in range(0, n, CHUNK):
                    e = min(n, s + CHUNK)
                    near = np.asarray(arr[np.arange(s, e) % m]).astype(np.int64)
                    near += m * rng.integers(0, copies, near.shape)
                    assert is_train[near % m].all()
                    dst.write(s, near.astype(np.int32))
                dst.finish()
            elif arr.shape[0] == m and name not in ("atlas_points",):
                dst = cache.streaming(name, (n, *arr.shape[1:]), str(arr.dtype), {"synthetic": seed})
                t = np.asarray(arr)
                for s in range(0, n, CHUNK):
                    e = min(n, s + CHUNK)
                    v = t[np.arange(s, e) % m]
                    v = np.sort(jitter(rng, v, 0.05), axis=1) if name == "neighbor_dist" else \
                        jitter(rng, v, 0.2, 0.02 if v.min() < 0 else 0.0)
                    dst.write(s, v.astype(arr.dtype))
                dst.finish()
            elif not name.startswith("atlas_"):
                cache.write_array(name, np.asarray(arr))
        else:
            t = small.table(name)
            if name in ("samples", "concept_contrast", "concept_why") or name.startswith("atlas_"):
                continue
            if name == "umap":
                out = expand_rows(t, n, ids)
                out["x"] += rng.normal(0, 0.15, n)
                out["y"] += rng.normal(0, 0.15, n)
                t = out
            elif "row" in t and len(t) == m and t["row"].nunique() == m:
                t = expand_rows(t, n, ids)
            else:
                t = t.copy()
                for col in ("id", "train_id"):
                    if col in t:
                        t[col] = [ids[int(small_ids[i])] if i in small_ids.index else i for i in t[col]]
            if name == "mean_cam_counts":
                t[["images", "all_images"]] = (t[["images", "all_images"]] * (n // m)).astype("int64")
            cache.write_table(name, t)
        log(f"{name}: written")
    if not cache.has("concept_contrast"):  # the confused pairs of every split, by the stage's own code
        samples = cache.table_columns("samples", ["y_class", "pred_class", "split"])
        classes = list(small.table("mean_cam_counts")["class"].astype(str))
        pred = samples["pred_class"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
        cache.write_table("concept_contrast", contrast_table(
            np.asarray(cache.array("concept_removal_logits")), samples["y_class"].to_numpy(np.int64), pred,
            samples["split"].astype(str).to_numpy(), classes))
        log("concept_contrast: computed")
    if not cache.has("concept_why"):  # the Errors page's why lines of every split, by the stage's own code
        samples = cache.table_columns("samples", ["row", "class", "pred_class", "p_pred", "correct", "split"])
        classes = list(small.table("mean_cam_counts")["class"].astype(str))
        cache.write_table("concept_why", why_table(np.asarray(cache.array("concept_removal_logits")), samples, classes))
        cache.record_artefacts(["concept_why"])  # as the runner does: readers need not import the stage
        log("concept_why: computed")
    for folder in ("concept_basis", "concept_patch_images", "featvis_images", "atlas_featvis"):
        src, dst = small.path(folder), cache.path(folder)
        if src.is_dir() and not dst.exists():
            shutil.copytree(src, dst)


def build(template: Path, out: Path, n: int, distinct: int, seed: int = 0) -> dict[str, str]:
    """Write (or finish) the million-image analysis; returns the dashboard's environment."""
    small = RunCache(template / "cache" / TEMPLATE_RUN)
    ds = Dataset(out / "data" / DATASET)
    if ds.exists() and len(ds.read()) == n:
        rows = ds.usable()
        run = open_run(out / "models" / RUN)
    else:
        ds, rows = make_dataset(template, out, n)
        run = make_run(template, out, ds, rows)
    log(f"dataset and run: {n} images")
    cache = RunCache.for_run(RUN, out / "cache")
    key = {"schema": small.manifest["schema"], "model_fingerprint": file_fingerprint(run.files.model),
           "dataset_fingerprint": run.info["dataset"]["fingerprint"]}
    if not cache.exists() or any(cache.manifest.get(k) != v for k, v in key.items()):
        cache.reset()
        cache.manifest = {**key, "run": RUN, "stages": {}, "n_images": n, "code_version": "synthetic",
                          "dataset": str(ds.root), "shard_rows": small.shard_rows,
                          "artefacts": dict(small.manifest["artefacts"])}
        cache.save_manifest()
    stages = small.manifest["stages"]
    if not cache.stage_done(FORWARD):
        cache.start_stage(FORWARD, fingerprint=stages[FORWARD]["fingerprint"], params={})
        t0 = time.perf_counter()
        info = Forward(cache, small, run, rows, distinct, seed).run_all()
        cache.mark_stage(FORWARD, time.perf_counter() - t0, **{**info, "params": {}, "version": stages[FORWARD].get(
            "version"), "fingerprint": stages[FORWARD]["fingerprint"]})
    ids = cache.table_columns("samples", ["id"])["id"].astype(str).to_numpy()
    other_artefacts(cache, small, n, ids, rows, seed)
    if not cache.has("atlas_cells"):
        t0 = time.perf_counter()
        levels = tuple(stages["atlas"]["levels"])
        grid, splits = atlas_stage.build(cache, run.labels.classes, levels)
        cache.write_array("atlas_means", grid.means)
        cache.write_array("atlas_points", grid.points)
        cache.write_table("atlas_cells", grid.cells)
        cache.path("atlas_featvis").mkdir(parents=True, exist_ok=True)
        log(f"atlas: built by the atlas stage in {time.perf_counter() - t0:.0f} s")
    for name, record in stages.items():  # the template's records: every stage done
        if name != FORWARD:
            cache.manifest["stages"][name] = dict(record)
    cache.save_manifest()
    return {"STREETLENS_MODELS": str(out / "models"), "STREETLENS_DATA": str(out / "data"),
            "STREETLENS_CACHE": str(out / "cache")}


def du(path: Path) -> tuple[int, int]:
    """(bytes on disk counting each inode once, bytes if the hard links were copies)."""
    seen, real, apparent = set(), 0, 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            apparent += st.st_size
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                real += st.st_blocks * 512
    return real, apparent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--template", type=Path, default=Path("/tmp/sl-million/small"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/sl-million/big"))
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--distinct", type=int, default=32, help="distinct shards of the hard-linked arrays")
    args = ap.parse_args()
    t0 = time.perf_counter()
    build(args.template, args.out, args.n, args.distinct)
    real, apparent = du(args.out / "cache" / RUN)
    log(f"done in {time.perf_counter() - t0:.0f} s: cache {real / 1e9:.1f} GB on disk "
        f"({apparent / 1e9:.1f} GB if the hard links of {', '.join(LINKED)} were copies)")


if __name__ == "__main__":
    main()
