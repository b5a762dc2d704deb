"""``data import --engine ray``: the per-file work of an import on Ray Data.

The file list becomes a Ray dataset of (source, class) rows in small blocks;
``map_batches`` runs :func:`analysis.data.examine.examine_file` — the very function the
local engine calls — on every row, on as many CPUs as the cluster has; the verdicts
stream back to the driver in file order (``preserve_order``), where the import's
existing code deduplicates them on the faiss index and writes the kept images and the
table. So the report and the table are the same as the local engine's by construction.

The driver never holds a decoded image: workers decode, clean and hash, and send back
only the bytes to store (the source bytes, or the cleaned re-encoding) with the verdict,
a block of at most :data:`MAX_BLOCK` files at a time.

Workers read the source files by path, so on a cluster of several machines SRC must be
on a filesystem every node sees (as the model files are for ``analyze``). Connection,
loopback-only local clusters and one-line errors: :mod:`analysis.cluster`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import pyarrow as pa

from analysis.cluster import data_context, ray_session
from analysis.data.examine import RESULT_FIELDS, FileResult, examine_file

MAX_BLOCK = 64  # files per Ray block: a block's bytes (photos of a few MB) stay small

RESULT_SCHEMA = pa.schema([
    ("source", pa.string()), ("cls", pa.string()), ("sha256", pa.string()),
    ("error", pa.string()), ("data", pa.large_binary()), ("ext", pa.string()),
    ("width", pa.int64()), ("height", pa.int64()), ("phash", pa.string()),
    ("cropped", pa.bool_()),
])
assert tuple(RESULT_SCHEMA.names) == RESULT_FIELDS, "keep RESULT_SCHEMA in step with FileResult"


def examine_batch(batch: pa.Table, **clean) -> pa.Table:
    """``map_batches``' function: :func:`examine_file` of every (source, cls) row."""
    results = [examine_file(s, c, **clean) for s, c in zip(batch["source"].to_pylist(),
                                                            batch["cls"].to_pylist())]
    return pa.Table.from_pylist([{k: getattr(r, k) for k in RESULT_FIELDS} for r in results],
                                schema=RESULT_SCHEMA)


def block_size(n_files: int, n_cpus: int) -> int:
    """Files per block: about four blocks per CPU for small imports (so every CPU gets
    work), at most :data:`MAX_BLOCK` for large ones."""
    return max(1, min(MAX_BLOCK, math.ceil(n_files / max(1, 4 * n_cpus))))


def ray_examined(files: Sequence[tuple[str, str]], clean: dict,
                 address: str | None = None) -> Iterator[FileResult]:
    """:func:`examine_file` of every (source, class) in ``files`` on Ray, yielded in
    order as the blocks finish. ``address``: see :func:`analysis.cluster.ray_session`."""
    if not files:
        return
    with ray_session(address) as ray, data_context(ray, preserve_order=True):
        size = block_size(len(files), int(ray.cluster_resources().get("CPU", 1)))
        blocks = [pa.table({"source": [s for s, _ in files[i:i + size]],
                            "cls": [c for _, c in files[i:i + size]]})
                  for i in range(0, len(files), size)]
        ds = ray.data.from_arrow(blocks).map_batches(
            examine_batch, batch_format="pyarrow", batch_size=None, fn_kwargs=clean,
            zero_copy_batch=True)
        del blocks  # in the object store now
        for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None, prefetch_batches=1):
            for row in batch.to_pylist():
                yield FileResult(**row)
