"""The structure the project promises: the store is the only place that spells a file
name, and imports point one way (the import-linter contract in pyproject.toml, checked
by ``lint-imports`` in ``make test``; here it runs too, so a plain ``pytest`` sees it)."""

import inspect
import re
import subprocess
import sys
from pathlib import Path

from analysis.store import ARTEFACTS, DatasetFiles, JobFiles, RunFiles
from analysis.store import cache as cache_module
from analysis.store import datasets as dataset_module

ROOT = Path(__file__).resolve().parents[1]


def store_file_names() -> set[str]:
    """Every fixed file name the store owns (names with an extension) — except the class →
    group overrides, a file users write themselves and the README must name."""
    names = {Path(a.file).name for a in ARTEFACTS.values() if "." in Path(a.file).name}
    names |= {cache_module.MANIFEST_FILE, cache_module.NAMES_FILE, cache_module._BASIS_COMPONENTS, cache_module._BASIS_INFO,
              dataset_module.SOURCES_LOG}
    for cls in (RunFiles, DatasetFiles, JobFiles):
        instance = cls(Path("x"))
        for name, member in inspect.getmembers(cls):
            if isinstance(member, property):
                value = getattr(instance, name)
                if isinstance(value, Path) and "." in value.name:
                    names.add(value.name)
    return names - {dataset_module.CLASSES_FILE}


def test_the_store_knows_the_names_this_test_looks_for():
    names = store_file_names()
    assert {"cams.zarr", "samples.parquet", "concept_maps.zarr", "manifest.json", "model.pt", "run.json",
            "history.csv", "dataset.parquet", "masks.npz", "progress.json"} <= names
    assert not any(n.startswith(".") for n in names)


def test_no_file_name_of_the_store_appears_outside_it():
    """``git grep`` for every artefact, run and dataset file name finds it only in
    ``analysis/store`` (and here)."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    own = {"tests/test_architecture.py"}
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in sorted(store_file_names())) + r")(?![\w])")
    hits = []
    for rel in files:
        if rel.startswith("analysis/store/") or rel in own or not (ROOT / rel).is_file():
            continue
        try:
            text = (ROOT / rel).read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for no, line in enumerate(text.splitlines(), 1):
            for m in pattern.finditer(line):
                hits.append(f"{rel}:{no}: {m.group(1)}")
    assert hits == [], "file names outside analysis/store:\n" + "\n".join(hits)


def test_imports_point_one_way():
    exe = str(Path(sys.executable).parent / "lint-imports")  # import-linter, a dev dependency
    done = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "1 kept" in done.stdout
