"""A stream of staged days committed one after another, each by its manifest's rename
(docs/architecture.md, "The store").

A day's samples are encoded and compressed (pyarrow, off the GIL) on a second thread while
the main thread rolls the day up and, if the day is small, reads and merges the next day:
the day's files are complete before its manifest names them, so a run killed at any moment
still leaves every day whole or absent.  A large day (a fleet's) is finished before the next
is read, so that two of them are never in memory at once.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from quotatune.model.errors import first_line
from quotatune.store import manifests, modes, reads
from quotatune.store.errors import StoreError
from quotatune.store.files import (
    atomic_write_text,
    remove_unreferenced,
    why,
    write_parquet,
    write_usage_table,
)
from quotatune.store.staging import TEXT, merge_tables, normalise

if TYPE_CHECKING:
    from quotatune.store.history import AppendReport, Store

# A day whose frame is at most this large may still be written while the next is merged;
# a larger one is finished first (memory: one large day at a time, as before pipelining).
OVERLAP_BYTES = 64 << 20


@dataclass
class _Writing:
    """A day whose files are being written; its manifest is not yet replaced."""

    day: str
    dir: Path
    manifest: dict[str, Any]
    data: Future[None]
    added: int
    nbytes: int


class DayCommits:
    """Commits ``store``'s days in the order given, counting into ``report``; ``on_day(done,
    total)`` is called before the first day and after each.  Use as a context manager: on
    leaving, the last day is committed (also after an error in a later day, whose own files
    are removed)."""

    def __init__(self, store: Store, report: AppendReport, total: int,
                 on_day: Callable[[int, int], None] | None = None, *,
                 write_samples: Callable[[pd.DataFrame, Path], None] = write_usage_table,
                 ) -> None:
        self.store = store
        self.report = report
        self.total = total
        self.on_day = on_day
        self.write_samples = write_samples  # a test's writer may fail or stall
        self.done = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="quotatune-writer")
        self._writing: _Writing | None = None

    def __enter__(self) -> DayCommits:
        self._progress()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc is None:
                self.finish()
            else:
                # The pending day is committed if its files are complete, else they are
                # removed; either way the error already raised is the one to report.
                with contextlib.suppress(Exception):
                    self.finish()
        finally:
            self._pool.shutdown(wait=True)

    def commit(self, day: str, new: list[Any]) -> None:
        """Merge the staged tables ``new`` with the stored day and start writing it."""
        if self._writing is not None and self._writing.nbytes > OVERLAP_BYTES:
            self.finish()
        old = stored_day(self.store, day)
        n_old = 0 if old is None else old.num_rows
        merged, dup = merge_tables(([normalise(old)] if old is not None else []) + new)
        del new
        self.report.samples_duplicate += dup
        self.finish()
        if len(merged) == n_old:
            self.done += 1
            self._progress()
            return
        self._writing = self._start(day, merged, len(merged) - n_old)

    def finish(self) -> None:
        """Commit the day being written: wait for its samples, then replace its manifest."""
        w, self._writing = self._writing, None
        if w is None:
            return
        try:
            w.data.result()
            atomic_write_text(w.dir / "manifest.json", json.dumps(w.manifest))
        except BaseException as exc:  # also Ctrl-C while waiting: no file left unreferenced
            _abandon(w.dir, w.data, exc)
            raise
        remove_unreferenced(w.dir)
        self.report.samples_added += w.added
        self.report.days_written.append(w.day)
        self.done += 1
        self._progress()

    def _start(self, day: str, df: pd.DataFrame, added: int) -> _Writing:
        d = self.store.day_dir(day)
        token = secrets.token_hex(6)
        manifest: dict[str, Any] = {"data": f"data-{token}.parquet", "rows": len(df)}
        data: Future[None] | None = None
        try:
            modes.make_dir(d)
            data = self._pool.submit(self.write_samples, df, d / manifest["data"])
            if self.store.rollup is not None:
                manifest["rollup"] = f"rollup-{token}.parquet"
                manifest["rollup_version"] = self.store.rollup_version
                rolled = (self.store.rollup(df) if self.store.rollup_table is None
                          else self.store.rollup_table(df))
                write_parquet(rolled, d / manifest["rollup"],
                              row_group_size=reads.ROLLUP_ROW_GROUP_ROWS, typed=True)
        except BaseException as exc:
            _abandon(d, data, exc)
            raise
        return _Writing(day, d, manifest, data, added, int(df.memory_usage(index=False).sum()))

    def _progress(self) -> None:
        if self.on_day is not None:
            self.on_day(self.done, self.total)


def stored_day(store: Store, day: str) -> Any:
    """The stored day as an Arrow table (names dictionary-encoded), or None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def read(path: Path) -> Any:
        try:
            names = [f.name for f in pq.read_schema(path)
                     if f.name in TEXT and not pa.types.is_dictionary(f.type)]
            return pq.read_table(path, read_dictionary=names)
        except FileNotFoundError:
            raise
        except (pa.ArrowException, OSError) as exc:
            raise StoreError(f"{path}: unreadable store file: {first_line(exc)}") from None

    return manifests.read_named(store.day_dir(day), "data", read)


def _abandon(d: Path, data: Future[None] | None, exc: BaseException) -> None:
    """Remove a day's files that its manifest does not name, once its sample write (if it
    was started) has stopped; raise a failure to write (the disk, or Arrow refusing the
    data) as a :class:`StoreError`.  Any other exception is the caller's to re-raise."""
    import pyarrow as pa

    if data is not None:
        _wait_quietly(data)  # its file is removed below, not left half-written
    remove_unreferenced(d)
    if isinstance(exc, OSError):
        raise StoreError(f"{d}: cannot write: {why(exc)}") from None
    if isinstance(exc, pa.ArrowException):
        raise StoreError(f"{d}: cannot write: {first_line(exc)}") from None


def _wait_quietly(future: Future[None]) -> None:
    """Wait until ``future`` has stopped, whatever it raised (Ctrl-C included)."""
    wait([future])
