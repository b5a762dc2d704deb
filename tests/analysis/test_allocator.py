"""``keep_freed_memory``: large blocks come from the heap and stay there once freed.

Oracle: glibc's own accounting (``mallinfo2``: ``hblkhd`` = bytes in blocks mmapped one by
one, ``fordblks`` = free bytes kept in the heap), read in a fresh interpreter because the
settings are process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import ctypes, json, sys
sys.path.insert(0, sys.argv[1])
from analysis.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
took = keep_freed_memory() if sys.argv[2] == "keep" else None
size = 64 << 20
block = libc.malloc(size)
during = libc.mallinfo2()
libc.free(block)
after = libc.mallinfo2()
print(json.dumps({"took": took, "mmapped_during": during.hblkhd, "free_kept_after": after.fordblks}))
"""


def probe(mode: str, **env) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), mode], capture_output=True, text=True,
                          env={**os.environ, **env}, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings")
def test_large_blocks_come_from_the_heap_and_stay_after_free():
    default, kept = probe("default"), probe("keep")
    assert default["mmapped_during"] >= 64 << 20  # glibc's default: a 64 MB block is mmapped on its own …
    assert default["free_kept_after"] < 64 << 20  # … and handed back to the kernel when freed
    assert kept["took"] is True
    assert kept["mmapped_during"] < 64 << 20  # from the heap instead
    assert kept["free_kept_after"] >= 64 << 20  # and kept there for the next batch


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings")
def test_switched_off_by_the_environment():
    off = probe("keep", STREETLENS_KEEP_FREED_MEMORY="0")
    assert off["took"] is False
    assert off["mmapped_during"] >= 64 << 20
