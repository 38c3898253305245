"""Keep the C allocator from handing large blocks back to the kernel between chunks.

Streaming commands allocate and free arrays of a chunk's size (megabytes) hundreds of times.
glibc returns such blocks to the kernel (``mmap`` above a threshold, heap trimming above
another), so every chunk faults its pages in afresh; on a virtual machine a page fault is
dear, and they were a quarter of ``recommend --from``'s CPU time on a large file.  Raising the
thresholds keeps freed blocks for the next chunk: peak memory is unchanged (what is kept is
what the previous chunk used), the faults roughly halve.  Elsewhere (not glibc) this does
nothing.  The process owns its allocator, so only the CLI sets it.
"""

from __future__ import annotations

import ctypes
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
