"""Tiny, seeded fixtures shared by the whole suite. Nothing here needs ../shared or the
network: every image a test uses is made here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def photo(seed: int, size: tuple[int, int] = (96, 80)) -> Image.Image:
    """A distinct, photo-like RGB image: smooth random colour fields plus fine noise, so
    perceptual hashes of different seeds are far apart."""
    rng = np.random.default_rng(seed)
    w, h = size
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), dtype=np.int16)
    noise = rng.integers(-12, 13, (h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture
def make_photo():
    return photo


@pytest.fixture
def photo_tree(tmp_path: Path):
    """SRC/<class>/*.jpg with ``n`` distinct photos per class."""

    def build(classes: dict[str, int], root: Path | None = None, start: int = 0,
              prefix: str = "") -> Path:
        src = root or tmp_path / "src"
        seed = start
        for cls, n in classes.items():
            (src / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                photo(seed).save(src / cls / f"{prefix}{cls}_{i:03d}.jpg", quality=92)
                seed += 1
        return src

    return build


def colour_photo(seed: int, colour: tuple[int, int, int], size: int = 40) -> Image.Image:
    """A photo-like image tinted towards ``colour``: classes that a tiny CNN can learn."""
    base = np.asarray(photo(seed, (size, size)), dtype=np.float64)
    return Image.fromarray(np.clip(0.5 * base + 0.5 * np.array(colour), 0, 255).astype(np.uint8))


TINY_CLASSES = {"tokyo": (220, 40, 40), "paris": (40, 40, 220), "seoul": (40, 200, 60)}


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A 3-class dataset of 24 tinted 40 px photos per class, imported and split."""
    from analysis.data.dataset import Dataset
    from analysis.data.importer import ImportOptions, import_folder

    root = tmp_path_factory.mktemp("tiny")
    seed = 10_000
    for cls, colour in TINY_CLASSES.items():
        (root / "src" / cls).mkdir(parents=True)
        for i in range(24):
            colour_photo(seed, colour).save(root / "src" / cls / f"{i:02d}.png")
            seed += 1
    ds = Dataset(root / "ds")
    import_folder(root / "src", ds, options=ImportOptions(workers=1, min_side=32), progress=False)
    return ds


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory):
    """A tiny-CNN finetune run on ``tiny_dataset`` (seeded, a few epochs)."""
    from analysis.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("runs")
    return train(TrainConfig(dataset=str(tiny_dataset.root), backbone="tiny_cnn", mode="finetune",
                             epochs=4, batch_size=8, models_root=str(root / "models"),
                             cache_root=str(root / "cache"), cache_precision="fp32",
                             train_precision="fp32"), progress=False)


@pytest.fixture(scope="session")
def analysed_run(tiny_run, tiny_dataset, tmp_path_factory):
    """(run, cache, roots) with every default stage computed (tiny CNN, 72 images, 40 px);
    roots = dict of env vars that point the dashboard at it."""
    from analysis.precompute import AnalyzeConfig, analyze

    cache_root = tmp_path_factory.mktemp("dash_cache")
    cache = analyze(tiny_run.path, config=AnalyzeConfig(batch_size=16, n_concepts=4, top_patches=4,
                                                        featvis_steps=4, featvis_size=32,
                                                        featvis_channels=1),
                    cache_root=cache_root, progress=False, log=lambda *_: None)
    roots = {"STREETLENS_MODELS": str(Path(tiny_run.path).parent),
             "STREETLENS_CACHE": str(cache_root),
             "STREETLENS_DATA": str(Path(tiny_dataset.root).parent)}
    return tiny_run, cache, roots
