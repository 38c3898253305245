"""Memory settings of a run's process: fewer page faults and collector passes per chunk.

Streaming commands allocate and free arrays of a chunk's size (megabytes) hundreds of times,
and every page the kernel hands out afresh is a fault and a page zeroed; on a virtual machine
a fault is dear.  Three settings, each measured on ``recommend --from`` of the 50 M-sample
export (docs/architecture.md, "Benchmarks"):

* glibc keeps freed blocks (below);
* the process asks for ordinary pages only.  numpy marks every array of 4 MiB or more for
  2 MiB pages, and Arrow's allocator its own blocks: each such fault zeroes 2 MiB, also
  where the memory is freed before it is filled.  A CSV import of 2 M rows spent a tenth of
  its CPU zeroing huge pages, and its system time swung from 0.4 to 1.0 s from run to run;
  with ordinary pages it stayed at 0.35-0.4 s (median of 7 runs, 1.89 -> 1.77 s);
* the objects alive after start-up (modules, pandas' and numpy's tables) are frozen out of
  the cyclic collector, whose full passes otherwise walk all of them again and again, and
  so are those alive when the command returns (the exit's last pass).

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
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
PR_SET_THP_DISABLE = 41  # prctl options (linux/prctl.h), Linux 3.15 and later
PR_GET_THP_DISABLE = 42
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


def ordinary_pages() -> bool:
    """Transparent huge pages off for this process and its children (Linux), and numpy's own
    marking of large arrays off wherever this numpy has the switch.  True if the process-wide
    setting took; elsewhere False, with numpy's switch still set."""
    import numpy as np

    multiarray = getattr(getattr(np, "_core", None), "multiarray", None)
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    if switch is not None:
        switch(False)
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return False
    return bool(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0)


def skip_final_collection() -> None:
    """Leave every object alive at the end of a run out of the collector's last pass, which
    the interpreter makes on exit over everything the run left (a CSV import: 30 ms of its
    1.6 s, median of 7 runs); the process ends, and its memory goes back, either way."""
    gc.freeze()


def freeze_startup_objects() -> None:
    """Leave every object alive now out of the cyclic collector's passes (they live as long
    as the process anyway); what the run creates is still collected."""
    gc.freeze()
