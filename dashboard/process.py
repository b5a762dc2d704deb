"""Settings of the dashboard's server process.

One BLAS thread: a page's arithmetic is small (a Grad-CAM map resized to a photo, a few
thousand points projected), and the server shares the machine with the browser, other
sessions and its own warm-up. With OpenBLAS's two threads such a product waits for the
other thread whenever the cores are busy: resizing one 7×7 map to 336×336 took 0.2 ms on
an idle machine and 2–8 ms (up to 26 ms) with both cores busy, 0.1–0.3 ms on one thread;
the Errors page's first visit on the million-image cache spent 0.35 s in 32 of them.
Set with threadpoolctl for the BLAS libraries loaded so far (the environment variables
would reach the analysis jobs the dashboard starts, which do want every core).
"""

from __future__ import annotations

import threading

_LOCK = threading.Lock()
_DONE: set[str] = set()


def single_threaded_blas() -> list[str]:
    """Limit every BLAS library loaded in this process to one thread (each library once;
    call again after imports that load another). Returns the libraries limited now."""
    import numpy  # noqa: F401 - its BLAS is the one the pages use: loaded before it is limited
    from threadpoolctl import threadpool_info, threadpool_limits

    with _LOCK:
        new = [i["filepath"] for i in threadpool_info() if i["user_api"] == "blas" and i["filepath"] not in _DONE]
        if new:
            threadpool_limits(1, user_api="blas")
            _DONE.update(new)
        return new
