"""``streetlens data scores``: run the scene classifier (and optionally a trained run)
over a dataset and write its curation scores (``analysis.data.scores``).

Resumable: the model outputs are saved every few hundred images, and a rerun scores only
images that have none; the Curate page starts this as a background job
(``analysis.jobs``) and reads its progress from the job's own JSON.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.curate.scene import SceneScorer, places365_scorer
from analysis.data.dataset import Dataset
from analysis.data.scores import (
    STREET_CATEGORIES,
    ScoreArrays,
    disputes_from_samples,
    street_indices,
    write_score_table,
)
from analysis.progress import bar
from analysis.store import RunCache, default_cache_root
from analysis.train.data import load_rgb
from analysis.train.predict import predict_images
from analysis.train.runs import load_model, open_run


@dataclass
class ScoreReport:
    dataset: Path
    model: str
    scored: int = 0  # CNN forward passes this time
    cached: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    centres: dict[str, str] = field(default_factory=dict)
    disputes_from: str = ""

    def lines(self) -> list[str]:
        rate = self.scored / self.seconds if self.seconds else 0.0
        out = [f"scores for {self.dataset}: {self.scored} images scored with {self.model} "
               f"({rate:.1f} img/s), {self.cached} cached, {len(self.failed)} unreadable "
               f"({self.seconds:.1f} s) → {Dataset(self.dataset).files.scores}"]
        out += [f"  class centre {c}: {b}" for c, b in sorted(self.centres.items())]
        if self.disputes_from:
            out.append(f"  model disputes from {self.disputes_from}")
        out += [f"  unreadable {i}: {why}" for i, why in self.failed[:10]]
        return out


def compute_scores(
    ds: Dataset,
    scorer: SceneScorer | None = None,
    *,
    street_categories: Sequence[str] | None = None,
    batch_size: int = 32,
    force: bool = False,
    run: str | Path | None = None,
    models_root: Path | None = None,
    cache_root: Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    save_every: int = 256,
) -> ScoreReport:
    """Score every image of ``ds`` (only those not scored yet, unless ``force``) and
    write the model outputs and the score table. Resumable: the outputs are saved every
    ``save_every`` images, so an interrupted run continues where it stopped."""
    t0 = time.perf_counter()
    table = ds.read()
    street_categories = tuple(street_categories or STREET_CATEGORIES)
    scorer = scorer or places365_scorer(device=device)
    street_indices(scorer.categories, street_categories)  # unknown names fail before any work
    arrays_path = ds.files.score_arrays
    arrays = None if force else ScoreArrays.load(arrays_path)
    if arrays is None or arrays.model != scorer.name or arrays.categories != list(scorer.categories):
        arrays = ScoreArrays.empty(scorer.name, scorer.categories)
    ids = table["id"].astype(str).tolist()
    arrays.keep(ids)
    have = set(arrays.ids)
    todo = table[~table["id"].astype(str).isin(have)]
    report = ScoreReport(ds.root, scorer.name, cached=len(table) - len(todo))
    unsaved = 0
    with bar(total=len(todo), desc="scene scores", unit="img", disable=not progress) as scored:
        for start in range(0, len(todo), batch_size):
            chunk = todo.iloc[start:start + batch_size]
            images, ok = [], []
            for rid, rel in zip(chunk["id"].astype(str), chunk["path"]):
                try:
                    images.append(load_rgb(ds.image_path(rel)))
                    ok.append(rid)
                except OSError as exc:
                    report.failed.append((rid, str(exc)))
            if images:
                probs, feats = scorer(images)
                arrays.add(ok, probs, feats)
                report.scored += len(ok)
                unsaved += len(ok)
            scored.update(len(chunk))
            if unsaved >= save_every:
                arrays.save(arrays_path)
                unsaved = 0
    if report.scored or not arrays_path.is_file():
        arrays.save(arrays_path)
    disputes = None
    if run is not None:
        disputes, report.disputes_from = run_disputes(run, ds, table, models_root=models_root,
                                                      cache_root=cache_root, batch_size=batch_size,
                                                      progress=progress)
    report.centres = write_score_table(ds, table, arrays, street_categories, disputes)
    report.seconds = time.perf_counter() - t0
    return report


def run_disputes(run: str | Path, ds: Dataset, table: pd.DataFrame, *,
                 models_root: Path | None = None, cache_root: Path | None = None,
                 batch_size: int = 32, progress: bool = True) -> tuple[pd.DataFrame, str]:
    """Model disputes for every image: from the run's analysis cache (its samples table)
    where it has the image, by predicting with the run otherwise."""
    r = open_run(run, models_root)
    classes = list(r.labels.classes)
    parts, source = [], []
    cache = RunCache.for_run(r.name, cache_root or default_cache_root())
    if cache.exists() and cache.has("samples"):
        samples = cache.samples().astype({"id": str})
        current = table[["id", "class"]].astype({"id": str, "class": str})
        samples = samples.merge(current, on="id", suffixes=("_then", ""))
        # relabelled since the analysis: p(label) of the new label, from the cached probs
        changed = np.nonzero((samples["class"] != samples["class_then"].astype(str)).to_numpy())[0]
        if len(changed):
            rows = samples["row"].to_numpy(dtype=np.int64)[changed]
            # only the relabelled images' rows are read (integer indexing of the cached array)
            probs = np.asarray(cache.class_probs()[np.unique(rows)]) if cache.has("class_probs") else None
            at = {r: i for i, r in enumerate(np.unique(rows))}
            index = {c: i for i, c in enumerate(classes)}
            col = samples.columns.get_loc("p_true")
            for k, row in zip(changed, rows):
                c = samples["class"].iat[k]
                samples.iat[k, col] = float(probs[at[row], index[c]]) if probs is not None and c in index else 0.0
        parts.append(disputes_from_samples(samples))
        source.append(f"{len(samples)} from the analysis cache of {r.name}")
    done = set(parts[0]["id"].astype(str)) if parts else set()
    rest = table[~table["id"].astype(str).isin(done)]
    if len(rest):
        model = load_model(r)
        rows = []
        for start in bar(range(0, len(rest), batch_size), desc=f"predict {r.name}",
                         disable=not progress):
            chunk = rest.iloc[start:start + batch_size]
            pc, _ = predict_images(r, [load_rgb(ds.image_path(p)) for p in chunk["path"]], model)
            pc = pc.numpy()
            for k, (rid, cls) in enumerate(zip(chunk["id"], chunk["class"])):
                j = int(pc[k].argmax())
                p_true = float(pc[k, classes.index(cls)]) if cls in classes else 0.0
                rows.append({"id": rid, "class": cls, "pred_class": classes[j],
                             "p_pred": float(pc[k, j]), "p_true": p_true})
        parts.append(disputes_from_samples(pd.DataFrame(rows)))
        source.append(f"{len(rest)} predicted by {r.name}")
    out = pd.concat(parts, ignore_index=True)
    out.attrs = {"run": r.name}
    return out, "; ".join(source)
