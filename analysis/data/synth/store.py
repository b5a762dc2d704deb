"""Writing a synthetic dataset and reading its cue annotations back.

Under ``out_dir`` (file names: ``analysis.store.DatasetFiles``):

    <city>/<city>_<index:05d>.png   the pictures
    annotations                     one row per cue instance: image (relative path), cue,
                                    classes (list of str), x0, y0, x1, y1 (half-open box),
                                    height, width (of the image), mask_index
    masks                           bits (uint8) and offsets (int64): the mask of row r is
                                    ``np.unpackbits(bits[offsets[i]:offsets[i + 1]])``
                                    with i = mask_index, the first (y1-y0)*(x1-x0) bits
                                    being its box crop in row-major order

Masks are stored cropped to their box and bit-packed: a thousand images take a few
megabytes, and one image's masks are rebuilt without touching the others.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from analysis.data.synth.render import Cue, image_seed, render_street
from analysis.data.synth.styles import CLASSES
from analysis.progress import bar as progress_bar
from analysis.store import DatasetFiles, atomic_path, write_bytes_atomic

COLUMNS = ["image", "cue", "classes", "x0", "y0", "x1", "y1", "height", "width", "mask_index"]


def image_path(city: str, index: int) -> str:
    return f"{city}/{city}_{index:05d}.png"


def _render_task(task: tuple[str, int, int, int]) -> tuple[bytes, list[Cue]]:
    city, index, seed, size = task
    image, cues = render_street(city, seed, size)
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)  # noise defeats zlib anyway; 1 is 2x faster
    return buf.getvalue(), cues


def generate(out_dir: Path, per_class: int, size: int = 224, seed: int = 0,
             classes: Sequence[str] | None = None, progress: bool = True,
             workers: int = 1) -> list[dict]:
    """Draw ``per_class`` streets per city into ``out_dir`` with their annotations.

    Image ``i`` of a city depends only on (seed, city, i, size), so generating 10 or 1000
    per class gives the same first ten pictures, and ``workers`` > 1 (processes) gives
    byte-identical output to one worker. Earlier pictures of a generated city beyond
    ``per_class`` are removed so the folder matches the annotations.
    Returns one ``{"path", "class", "seed", "n_cues"}`` dict per image."""
    out_dir = Path(out_dir)
    chosen = list(classes) if classes else list(CLASSES)
    unknown = [c for c in chosen if c not in CLASSES]
    if unknown:
        raise ValueError(f"no demo style for {', '.join(unknown)}; choose from {', '.join(CLASSES)}")
    if per_class < 0:
        raise ValueError(f"per_class must be >= 0, got {per_class}")
    tasks = [(c, i, image_seed(seed, c, i), size) for c in chosen for i in range(per_class)]

    def rendered() -> Iterator[tuple[bytes, list[Cue]]]:
        if workers > 1 and len(tasks) > 1:
            with ProcessPoolExecutor(workers) as pool:
                yield from pool.map(_render_task, tasks, chunksize=16)
        else:
            yield from map(_render_task, tasks)

    rows: list[tuple] = []
    chunks: list[np.ndarray] = []
    offsets = [0]
    made: list[dict] = []
    bar = progress_bar(total=len(tasks), desc="drawing streets", unit="img", disable=not progress)
    for (city, index, img_seed, _), (png, cues) in zip(tasks, rendered()):
        rel = image_path(city, index)
        write_bytes_atomic(out_dir / rel, png)
        for cue in cues:
            x0, y0, x1, y1 = cue.box
            packed = np.packbits(cue.mask[y0:y1, x0:x1])
            rows.append((rel, cue.kind, list(cue.classes), x0, y0, x1, y1, size, size, len(chunks)))
            chunks.append(packed)
            offsets.append(offsets[-1] + packed.size)
        made.append({"path": rel, "class": city, "seed": img_seed, "n_cues": len(cues)})
        bar.update()
    bar.close()

    table = pd.DataFrame(rows, columns=COLUMNS)
    files = DatasetFiles(out_dir)
    with atomic_path(files.annotations) as tmp:
        table.to_parquet(tmp, index=False)
    bits = np.concatenate(chunks) if chunks else np.zeros(0, np.uint8)
    with atomic_path(files.masks) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, bits=bits, offsets=np.asarray(offsets, np.int64))
    _remove_stale(out_dir, chosen, per_class)
    return made


def _remove_stale(out_dir: Path, cities: Sequence[str], per_class: int) -> None:
    for city in cities:
        pattern = re.compile(rf"{re.escape(city)}_(\d{{5}})\.png")
        folder = out_dir / city
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            hit = pattern.fullmatch(path.name)
            if hit and int(hit.group(1)) >= per_class:
                path.unlink()


# -- reading back ----------------------------------------------------------------------
class _Annotations:
    """All annotations of one dataset, indexed by image, with the packed masks in memory."""

    def __init__(self, root: Path):
        files = DatasetFiles(root)
        table = pd.read_parquet(files.annotations)
        with np.load(files.masks) as npz:
            self.bits = npz["bits"]
            self.offsets = npz["offsets"]
        self.by_image: dict[str, list[tuple]] = {}
        for row in table.itertuples(index=False):
            self.by_image.setdefault(row.image, []).append(row)

    def cues(self, image: str) -> list[Cue]:
        out = []
        for r in self.by_image.get(image, []):
            h, w = r.y1 - r.y0, r.x1 - r.x0
            flat = np.unpackbits(self.bits[self.offsets[r.mask_index]:self.offsets[r.mask_index + 1]],
                                 count=h * w)
            mask = np.zeros((r.height, r.width), bool)
            mask[r.y0:r.y1, r.x0:r.x1] = flat.reshape(h, w).astype(bool)
            out.append(Cue(r.cue, tuple(r.classes), (int(r.x0), int(r.y0), int(r.x1), int(r.y1)), mask))
        return out


@lru_cache(maxsize=4)
def _annotations(root: str, stamp: tuple[int, int]) -> _Annotations:
    return _Annotations(Path(root))


def load_cues(dataset_root: Path, image: str) -> list[Cue]:
    """The cues of one image (path relative to ``dataset_root``, e.g.
    "tokyo/tokyo_00003.png"), masks included. The dataset's annotation files are read
    once and cached until they change on disk."""
    root = Path(dataset_root).resolve()
    files = DatasetFiles(root)
    ann, masks = files.annotations, files.masks
    if not ann.is_file() or not masks.is_file():
        raise FileNotFoundError(f"{root}: no cue annotations ({ann.name}, {masks.name}); only "
                                f"synthetic datasets have them -- create one with `streetlens data synth`")
    rel = Path(image)
    if rel.is_absolute():
        rel = rel.resolve().relative_to(root)
    stamp = (ann.stat().st_mtime_ns, masks.stat().st_mtime_ns)
    return _annotations(str(root), stamp).cues(rel.as_posix())
