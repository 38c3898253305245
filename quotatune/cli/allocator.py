"""Memory settings of a run's process: fewer page faults and collector passes per chunk.

Streaming commands allocate and free arrays of a chunk's size (megabytes) hundreds of times,
and every page the kernel hands out afresh is a fault and a page zeroed; on a virtual machine
a fault is dear.  Three settings, each measured on ``recommend --from`` of the 50 M-sample
export (docs/architecture.md, "Benchmarks"):

* glibc keeps freed blocks (below);
* numpy asks for ordinary pages: it marks every array of 4 MiB or more for 2 MiB pages, and
  each such fault zeroes 2 MiB, also where the array is freed before it is filled;
* the objects alive after start-up (modules, pandas' and numpy's tables) are frozen out of
  the cyclic collector, whose full passes otherwise walk all of them again and again.

glibc returns freed blocks to the kernel (``mmap`` above a threshold, heap trimming above
another), so every chunk faulted its pages in afresh: a quarter of ``recommend --from``'s
CPU time on a large file.  Raising the thresholds keeps freed blocks for the next chunk:
peak memory is unchanged (what is kept is what the previous chunk used), the faults roughly
halve.  Elsewhere (not glibc) this does nothing.  The process owns its allocator and its
collector, so only the CLI sets them, and not for ``serve``, which should give memory back.
"""

from __future__ import annotations

import ctypes
import gc
import platform

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MIB = 1 << 20
SETTINGS = (
    (M_MMAP_THRESHOLD, 32 * MIB),  # glibc's largest: a chunk's arrays come from the heap
    (M_TRIM_THRESHOLD, 1024 * MIB),  # freed heap is kept up to this much
    (M_TOP_PAD, 64 * MIB),  # and grown in steps this big
)


def keep_freed_memory() -> bool:
    """Apply every one of :data:`SETTINGS` (glibc refuses one it finds too large, e.g. a
    32 MiB threshold on 32-bit, and keeps the rest); False unless all took.  Nothing is
    done off glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):
        return False
    results = [mallopt(param, value) == 1 for param, value in SETTINGS]
    return all(results)


def ordinary_pages_for_arrays() -> bool:
    """Stop numpy marking large arrays for transparent huge pages; False where this numpy
    has no such switch."""
    import numpy as np

    multiarray = getattr(getattr(np, "_core", None), "multiarray", None)
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    if switch is None:
        return False
    switch(False)
    return True


def freeze_startup_objects() -> None:
    """Leave every object alive now out of the cyclic collector's passes (they live as long
    as the process anyway); what the run creates is still collected."""
    gc.freeze()
