"""Where streetlens keeps what it computes — the only package that spells a file name.

``RunCache``     a run's analysis cache (``cache/<run>/``): typed accessors per artefact
``RunFiles``     a trained run (``models/<run>/``); ``experiment_file`` a grid of runs
``DatasetFiles`` a dataset folder (``data/<name>/``)
``TrunkFiles``   frozen layers' outputs shared by training and analysis (``cache/trunk/``)
``JobFiles``     a background job's progress and log (``cache/jobs/<job>/``)
``NameBook``     the concept names users gave a run's concepts, with their history

It sits at the bottom of the package: it imports nothing else of streetlens.
"""

from analysis.store.arrays import StreamingArray, batched
from analysis.store.analyses import ON, analyses_of, analysis_name, pair_file, split_analysis
from analysis.store.artefacts import ARTEFACTS, Artefact, declare
from analysis.store.cache import SCHEMA_VERSION, CacheError, RunCache, default_cache_root
from analysis.store.chunked import ShardedArray
from analysis.store.shards import ShardError, ShardLayout, ShardSet
from analysis.store.datasets import CLASSES_FILE, SOURCES_LOG, DatasetFiles, default_data_root
from analysis.store.files import atomic_path, file_fingerprint, write_bytes_atomic, write_json_atomic
from analysis.store.jobs import JobFiles
from analysis.store.names import MAX_LENGTH as MAX_NAME_LENGTH
from analysis.store.names import NameBook, NamesError, check_name
from analysis.store.runs import RunFiles, default_models_root, experiment_file, experiment_files
from analysis.store.trunk import TrunkFiles

__all__ = [
    "ARTEFACTS", "ON", "SCHEMA_VERSION", "Artefact", "CacheError", "RunCache", "declare", "default_cache_root", "pair_file", "analyses_of", "analysis_name", "split_analysis",
    "StreamingArray", "batched", "ShardedArray", "ShardError", "ShardLayout", "ShardSet", "CLASSES_FILE", "SOURCES_LOG", "DatasetFiles", "default_data_root",
    "atomic_path", "file_fingerprint", "write_bytes_atomic", "write_json_atomic", "JobFiles",
    "RunFiles", "default_models_root", "experiment_file", "experiment_files", "TrunkFiles", "NameBook", "NamesError", "check_name",
    "MAX_NAME_LENGTH",
]
