"""The featvis stage on the analysed tiny run (``analysed_run`` in tests/conftest.py: 4
steps at 32 px, one channel per target): which pictures it renders, and the quality of
each, checked against a forward pass of its own."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from analysis.train.runs import load_model


@pytest.fixture(scope="module")
def stage(analysed_run):
    run, cache, _ = analysed_run
    return run, cache, cache.table("featvis")


def test_it_renders_every_concept_and_every_channel_a_page_shows_first(stage):
    run, cache, fv = stage
    top = cache.table("top_channels")
    gallery = set(top.loc[top["rank"] < 1, "channel"])  # featvis_channels=1: every city and group
    closer_look = set(top.loc[(top["head"] == "city") & (top["target"] == run.labels.classes[0]), "channel"])
    first = cache.table("samples").iloc[0]
    attr = np.asarray(cache.array("channel_attr")[int(first["row"]),
                                                  list(run.labels.classes).index(first["pred_class"])], np.float32)
    order = np.argsort(-attr, kind="stable")[:8]
    sample_page = {int(c) for c in order if attr[c] > 0} or {int(c) for c in order}
    channels = fv.loc[fv["kind"] == "channel", "index"].astype(int).tolist()
    assert sorted(channels) == sorted({int(c) for c in gallery | closer_look | sample_page})
    assert sorted(fv.loc[fv["kind"] == "concept", "index"]) == list(range(len(cache.read_concept_basis()[0])))
    assert all(cache.resolve(f).is_file() for f in fv["file"])


def test_quality_is_the_pictures_response_over_its_top_eight_images(stage):
    run, cache, fv = stage
    assert "quality" in fv.columns and fv["quality"].notna().any()
    model = load_model(run)
    features = np.asarray(cache.array("features"), np.float64)
    components = cache.read_concept_basis()[0].astype(np.float64)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in run.spec.mean_std(run.weights))
    for kind, index, file, q in fv[["kind", "index", "file", "quality"]].itertuples(index=False):
        if kind == "channel":
            u = np.eye(features.shape[1])[int(index)]
        else:
            u = components[int(index)] / np.linalg.norm(components[int(index)])
        with Image.open(cache.resolve(file)) as im:
            x = torch.from_numpy(np.asarray(im.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None]
        with torch.no_grad():
            pooled = model.features((x - mean) / std).mean((2, 3))[0].double().numpy()
        reference = np.sort(features @ u)[-8:].mean()
        if reference > 0:
            assert q == pytest.approx(float(pooled @ u) / reference, rel=1e-4, abs=1e-6)
        else:
            assert np.isnan(q)
