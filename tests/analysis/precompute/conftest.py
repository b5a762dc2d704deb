"""Fixtures of the stage tests: a tiny procedural demo with its cue annotations."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def annotated_run(tmp_path_factory):
    """A tiny procedural demo (3 cities, 48 px) with its cue annotations, and a tiny CNN."""
    from analysis.data.dataset import Dataset
    from analysis.data.synthetic import synthesize_dataset
    from analysis.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("annotated")
    ds = Dataset(root / "demo")
    synthesize_dataset(ds, per_class=14, size=48, classes=["london", "paris", "tokyo"], progress=False)
    run = train(TrainConfig(dataset=str(ds.root), backbone="tiny_cnn", mode="finetune", epochs=3,
                            batch_size=8, image_size=48, models_root=str(root / "models"),
                            cache_root=str(root / "cache")), progress=False)
    return run, root
