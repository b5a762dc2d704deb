"""Comparing analysed runs: a run against itself is the oracle (no difference, p = 1,
every image in "both", maps identical, CKA 1, every concept shared with itself); runs
that cannot be compared get one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.precompute.compare_views import CompareError, check_same_dataset, compare, open_pair
from analysis.store import CacheError, RunCache


def test_a_run_compared_with_itself(analysed_run):
    run, cache, _ = analysed_run
    c = compare(cache, cache, split="all", n_boot=200)
    total = c.accuracy.set_index("class").loc["all"]
    samples = cache.samples()
    assert total["images"] == len(samples) and total["acc_a"] == pytest.approx(samples["correct"].mean())
    assert (c.accuracy["difference"] == 0).all() and (c.accuracy["p_mcnemar"] == 1).all()
    cells = c.agreement.set_index("cell")["images"]
    assert cells["only A right"] == cells["only B right"] == 0
    assert cells["both right"] == int(samples["correct"].sum())
    rho = c.map_correlation["rho"].dropna()
    assert len(rho) and np.allclose(rho, 1.0)
    assert c.cka == pytest.approx(1.0)
    assert c.concepts["shared"].all() and (c.concepts["concept_a"] == c.concepts["concept_b"]).all()


def test_other_classes_other_dataset_no_cache_no_run(analysed_run, tmp_path):
    run, cache, roots = analysed_run
    other = RunCache(tmp_path / "other")
    shutil.copytree(cache.root, other.root)
    samples = other.samples()
    other.write_table("samples", samples.assign(**{"class": samples["class"].map(lambda c: c + "_x")}))
    with pytest.raises(CompareError, match="classify different cities"):
        compare(cache, RunCache(other.root), split="all")
    other.write_table("samples", samples.assign(split="train"))
    with pytest.raises(CompareError, match="share no test image"):
        compare(cache, RunCache(other.root), split="test")

    cache_root = tmp_path / "caches"
    shutil.copytree(cache.root, cache_root / run.name)
    manifest = json.loads((cache_root / run.name / cache.manifest_path.name).read_text())
    (cache_root / run.name / cache.manifest_path.name).write_text(
        json.dumps({**manifest, "dataset_fingerprint": "another"}))
    models = roots["STREETLENS_MODELS"]
    check_same_dataset(cache, cache)
    with pytest.raises(CompareError, match="different datasets"):
        check_same_dataset(cache, RunCache(cache_root / run.name))
    with pytest.raises(CacheError, match="no analysis yet"):
        open_pair(run.name, run.name, models, tmp_path / "empty")
    result = CliRunner().invoke(main, ["compare", "nope", run.name, "--models-root", models])
    assert result.exit_code == 1 and result.output.startswith("Error: no run") and result.output.count("\n") == 1


def test_compare_cli_prints_the_table_and_csv(analysed_run):
    run, cache, roots = analysed_run
    args = ["compare", run.name, run.name, "--split", "all", "--models-root", roots["STREETLENS_MODELS"],
            "--cache-root", roots["STREETLENS_CACHE"]]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "linear CKA of the pooled features: 1.000" in out.output and "significant" not in out.output
    csv = CliRunner().invoke(main, [*args, "--csv"])
    table = pd.read_csv(__import__("io").StringIO(csv.output))
    assert table["class"].iloc[0] == "all" and (table["difference"] == 0).all()
