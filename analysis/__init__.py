"""streetlens' analysis package.

PyTorch on CPU hands every tensor of 2 MB or more back to the kernel when it is freed, so
each batch faults its activations in again, page by page: measured here, half of a plain
inference pass was kernel time. ``THP_MEM_ALLOC_ENABLE`` (PyTorch's own switch) backs such
tensors with transparent huge pages, 512 times fewer faults; forward passes took 0.6×
the time. It must be set before torch allocates its first tensor, hence here; a value the
user set wins.
"""

import os

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
