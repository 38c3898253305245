"""One exclusive ``flock`` helper for the history store and the reports directory.

The kernel drops an ``flock`` when its holder dies, so a run killed with SIGKILL never leaves
a stale lock behind; the file keeps a line naming the holder for the message of the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from quotatune.store import modes


class LockTimeout(Exception):
    """Another process held the lock for the whole wait; ``holder`` is what it wrote."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by another run" + (f" ({holder})" if holder else ""))
        self.path = path
        self.holder = holder


@contextlib.contextmanager
def exclusive(path: Path, wait: float, *, holder: str = "", poll: float = 0.05) -> Iterator[None]:
    """Hold ``path`` exclusively; wait up to ``wait`` seconds, then raise :class:`LockTimeout`.
    Opening the file can raise :class:`OSError` (read-only or missing directory)."""
    fd = modes.open_private(path, os.O_RDWR | os.O_CREAT)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    held_by = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    raise LockTimeout(path, held_by) from None
                time.sleep(poll)
        if holder:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{holder}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
