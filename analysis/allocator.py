"""glibc malloc settings for the processes that compute (analysis, training, Ray workers).

Why: glibc hands every block above its mmap threshold (at most 32 MB, adjusted as the
process runs) back to the kernel when it is freed, and trims the heap's free top. A forward
pass allocates and frees its activations batch after batch, so each batch's memory was
faulted in and zeroed again by the kernel: measured on this 2-core machine, 4–7 of a plain
1,000-image inference pass's 10–16 CPU seconds were kernel time. With freed memory kept for
reuse (``keep_freed_memory``) the kernel time fell to 0–1 s and the pass to 0.4–0.7× its
time. The price: the process keeps its peak heap until it exits, which is what a batch
job wants and a long-lived server does not, so the dashboard never calls it.

``STREETLENS_KEEP_FREED_MEMORY=0`` switches it off. Nothing here changes a result.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

KEEP_UP_TO = 1 << 30
"""Blocks up to 1 GiB come from the heap (not mmap), and up to 2 GiB of free heap top stay."""

MALLOC_ARENAS = 2


def _mallopt(option: int, value: int) -> bool:
    """glibc's ``mallopt``; False where the C library is not glibc."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(option, value))
    except (OSError, AttributeError):
        return False


def keep_freed_memory() -> bool:
    """Serve large blocks from the heap and keep freed memory for reuse (see the module's
    why). True when glibc took the settings; False when switched off or not glibc."""
    if os.environ.get("STREETLENS_KEEP_FREED_MEMORY", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return _mallopt(M_MMAP_THRESHOLD, KEEP_UP_TO) and _mallopt(M_TRIM_THRESHOLD, 2 * KEEP_UP_TO)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas in this process (``mallopt(M_ARENA_MAX)``;
    False where the C library is not glibc). Why: with a second call decoding in its own
    thread, glibc gave that thread arenas of its own and the model actor's peak grew with the
    run (5,000 → 20,000 images: 1,644 → 1,858 MB, private 1,084 → 1,304 MB); with two arenas
    it stayed at 1,653 MB (private 1,093 MB)."""
    return _mallopt(M_ARENA_MAX, arenas)
