"""Read the next chunk of the input while this one is being rolled up.

Decoding Parquet or CSV (pyarrow) and the vectorised rollups (numpy) both release the GIL for
most of their time, so on two cores a reader thread one chunk ahead overlaps the two instead
of running them one after the other.  Memory: at most ``depth`` chunks wait in the queue,
besides the one being read and the one being used.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


def prefetched(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``items``, produced by a thread up to ``depth`` ahead of the consumer.  An exception in
    the producer is raised in the consumer at the same place in the sequence; closing the
    iterator early stops the producer (which closes ``items`` in its own thread)."""
    q: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer, re-raised
            put((_END, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="quotatune-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
