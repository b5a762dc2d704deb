"""Per-image arrays in a chunked store: zarr v3 arrays sharded by image.

Why zarr: many writers (Ray actors on several machines, or one process) fill disjoint
image ranges of the same array at once, each range ("shard") one file written atomically;
a reader opens an array instantly and decodes only the rows it asks for (inner chunks of
about ``INNER_BYTES``, so one sample's activations cost a millisecond even when a shard
holds hundreds of images). zstd with a frame checksum: a corrupt chunk fails loudly on read
instead of showing wrong pictures.

``ShardedArray`` is the read side: numpy-style row indexing (ints, slices, integer arrays,
boolean masks, then any further axes) that returns plain ``numpy`` arrays.
"""

from __future__ import annotations

import os
import shutil
import zlib
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

SHARD_ROWS = 256  # images per shard: the unit of writing, checking and recomputing
INNER_BYTES = 1 << 20  # inner chunks of about this size: what a reader decodes at least
META_FILE = "zarr.json"


def inner_rows(row_bytes: int, shard_rows: int) -> int:
    """Rows per inner chunk: a power of two dividing ``shard_rows`` (itself one), ≈ INNER_BYTES."""
    rows = 1
    while rows * 2 <= shard_rows and shard_rows % (rows * 2) == 0 and rows * 2 * row_bytes <= INNER_BYTES:
        rows *= 2
    return rows


def create(path: Path, shape: tuple[int, ...], dtype, shard_rows: int = SHARD_ROWS) -> zarr.Array:
    """An empty array at ``path`` (metadata only), sharded every ``shard_rows`` rows."""
    shape = tuple(int(s) for s in shape)
    dtype = np.dtype(dtype)
    rows = max(1, min(int(shard_rows), max(shape[0], 1)))
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    inner = inner_rows(max(row_bytes, 1), rows)
    return zarr.create_array(
        store=str(path), shape=shape, dtype=dtype, shards=(rows, *shape[1:]), chunks=(inner, *shape[1:]),
        compressors=[ZstdCodec(level=1, checksum=True)], fill_value=0, overwrite=True,
        config={"write_empty_chunks": True})


def open_writable(path: Path) -> zarr.Array:
    return zarr.open_array(str(path), mode="r+")


def shard_rows_of(z: zarr.Array) -> int:
    return int(z.shards[0]) if z.shards else int(z.chunks[0])


def shard_file(path: Path, z: zarr.Array, index: int) -> Path:
    """The file that holds shard ``index`` of the array at ``path``."""
    key = z.metadata.encode_chunk_key((index,) + (0,) * (z.ndim - 1))
    return Path(path) / key


def write_shard(z: zarr.Array, index: int, values: np.ndarray) -> None:
    """Rows of shard ``index`` (all of them; the last shard may be shorter)."""
    s = shard_rows_of(z)
    a, b = index * s, min(z.shape[0], (index + 1) * s)
    if values.shape != (b - a, *z.shape[1:]):
        raise ValueError(f"shard {index} needs rows {a}:{b} of shape {z.shape[1:]}, got {values.shape}")
    z[a:b] = np.ascontiguousarray(values, dtype=z.dtype)


def checksum(path: Path) -> tuple[int, str]:
    """(size, crc32 as hex) of one file: what a shard record keeps to detect damage."""
    crc, size = 0, 0
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            crc = zlib.crc32(block, crc)
            size += len(block)
    return size, f"{crc:08x}"


def write_whole(path: Path, values: np.ndarray, shard_rows: int = SHARD_ROWS) -> None:
    """``values`` as a new array at ``path``, replacing an old one only once it is complete."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    z = create(tmp, values.shape, values.dtype, shard_rows)
    if values.size:
        z[...] = np.ascontiguousarray(values)
    replace_dir(tmp, path)


def replace_dir(src: Path, dst: Path) -> None:
    """Move folder ``src`` to ``dst``; an old ``dst`` is moved aside first, then removed."""
    dst = Path(dst)
    old = None
    if dst.exists():
        old = dst.with_name(f"{dst.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    touch(dst)


def touch(path: Path) -> None:
    """Mark the array at ``path`` as changed (readers key their caches on its metadata's time)."""
    meta = Path(path) / META_FILE
    if meta.is_file():
        os.utime(meta)


def exists(path: Path) -> bool:
    return (Path(path) / META_FILE).is_file()


def mtime(path: Path) -> float:
    meta = Path(path) / META_FILE
    return meta.stat().st_mtime if meta.is_file() else 0.0


class ShardedArray:
    """A read-only, numpy-style view of a stored array: reads only the rows it is asked for."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.z = zarr.open_array(str(self.path), mode="r")
        self.shape = tuple(self.z.shape)
        self.dtype = np.dtype(self.z.dtype.to_native_dtype() if hasattr(self.z.dtype, "to_native_dtype")
                              else self.z.dtype)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self) -> str:
        return f"ShardedArray({self.path.name}, shape={self.shape}, dtype={self.dtype})"

    def __array__(self, dtype=None, copy=None):
        out = self.z[...] if self.shape[0] else np.zeros(self.shape, self.dtype)
        return out.astype(dtype, copy=False) if dtype is not None else out

    def __getitem__(self, key):
        """``a[rows, …]`` as numpy does it; only ``rows`` (the first axis) are read."""
        key = key if isinstance(key, tuple) else (key,)
        if not key or key[0] is Ellipsis or key[0] is None:
            return np.asarray(self)[key]
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            i = int(first)
            if not -self.shape[0] <= i < self.shape[0]:
                raise IndexError(f"row {i} is out of range for {self.shape[0]} rows")
            i %= self.shape[0]
            return self.z[i:i + 1][0][rest]
        if isinstance(first, slice):
            block = self._rows(first)
            return block[(slice(None),) + rest] if rest else block
        idx = np.asarray(first)
        if idx.dtype == bool:
            if idx.shape != (self.shape[0],):
                raise IndexError(f"boolean index of shape {idx.shape} for {self.shape[0]} rows")
            idx = np.flatnonzero(idx)
        if idx.size and (idx.min() < -self.shape[0] or idx.max() >= self.shape[0]):
            raise IndexError(f"row index out of range for {self.shape[0]} rows")
        idx = idx.astype(np.int64, copy=False) % max(self.shape[0], 1)
        block = self._take(idx.ravel())
        # block[p] is row idx.flat[p]: indexing it by positions keeps numpy's semantics for the rest
        return block[(np.arange(idx.size).reshape(idx.shape),) + rest]

    def _rows(self, s: slice) -> np.ndarray:
        a, b, step = s.indices(self.shape[0])
        if step != 1:
            return self._take(np.arange(a, b, step, dtype=np.int64))
        if b <= a:
            return np.zeros((0, *self.shape[1:]), self.dtype)
        return self.z[a:b]

    def _take(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` (any order, repeats allowed). zarr's own orthogonal indexing costs
        about 20 times a slice read of the same chunks, so the inner chunks holding the rows
        are read as slices, one per run of neighbouring chunks (the same chunks decoded)."""
        if idx.size == 0:
            return np.zeros((0, *self.shape[1:]), self.dtype)
        order = np.unique(idx)
        rows = int(self.z.chunks[0])
        chunk_ids = np.unique(order // rows)
        breaks = np.flatnonzero(np.diff(chunk_ids) > 1) + 1
        parts = []
        for run in np.split(chunk_ids, breaks):
            a, b = int(run[0]) * rows, min(self.shape[0], (int(run[-1]) + 1) * rows)
            lo, hi = np.searchsorted(order, [a, b])
            parts.append(self.z[a:b][order[lo:hi] - a])
        block = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return block[np.searchsorted(order, idx)]
