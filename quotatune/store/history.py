"""The history store: a Parquet dataset under ``data/`` that never loses or duplicates samples.

Layout::

    ROOT/usage/day=2026-11-27/manifest.json      {"data": "data-<token>.parquet", "rollup": …}
    ROOT/usage/day=2026-11-27/data-<token>.parquet
    ROOT/usage/day=2026-11-27/rollup-<token>.parquet   (optional per-day summaries)
    ROOT/specs.parquet  ROOT/events.parquet  ROOT/.lock

Why this shape: a day is rewritten whole (existing rows + new rows, deduplicated on
namespace/workload/pod/container/timestamp), into a new file; the manifest is then replaced by
``rename``, which is the commit point.  A run killed at any moment leaves either the old or the
new manifest, both pointing at complete files, so nothing is half-written; re-running the same
import adds nothing, so nothing is duplicated.  Writers take an exclusive ``flock`` on
``ROOT/.lock``; readers take no lock and retry a day whose file was swapped under them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.model.errors import first_line
from quotatune.rollup import merge
from quotatune.store import lock as filelock
from quotatune.store import manifests, modes, reads
from quotatune.store.commits import DayCommits
from quotatune.store.errors import StoreError
from quotatune.store.files import atomic_write_text as _atomic_write_text
from quotatune.store.files import why as _why
from quotatune.store.files import write_parquet as _write_parquet
from quotatune.store.staging import DayStaging, remove_stale, spill_dir

USAGE_KEY = ["namespace", "workload", "pod", "container", "timestamp"]
# What quotatune keeps under a store's root; anything else there is the user's.
OWN_ENTRIES = ("usage", "staging", "specs.parquet", "events.parquet", ".lock",
               "collections.json")
SPEC_KEY = ["namespace", "workload", "pod", "container"]
# A day's samples to its summaries (:func:`quotatune.rollup.sketch.daily_rollup`), whose
# object columns hold only arrays, text or None: written as they are.
Rollup = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass
class AppendReport:
    samples_added: int = 0
    samples_duplicate: int = 0
    days_written: list[str] = field(default_factory=list)
    specs_rows: int = 0
    events_added: int = 0


class Store:
    def __init__(
        self,
        root: Path | str,
        *,
        rollup: Rollup | None = None,
        rollup_table: Callable[[pd.DataFrame], Any] | None = None,
        rollup_version: str = "",
        lock_timeout: float = 120.0,
    ) -> None:
        self.root = Path(root)
        self.rollup = rollup
        # The same rollup as a pyarrow.Table, which the day commits write as it is.
        self.rollup_table = rollup_table
        self.rollup_version = rollup_version
        self.lock_timeout = lock_timeout

    # ----------------------------------------------------------------------------- locking
    @contextlib.contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        """Exclusive writer lock; waits up to ``timeout`` seconds, then fails clearly."""
        timeout = self.lock_timeout if timeout is None else timeout
        self._ensure_root()
        held = contextlib.ExitStack()
        # Only taking the lock is translated here; errors of the locked work pass through.
        try:
            held.enter_context(
                filelock.exclusive(self.root / ".lock", timeout, holder=f"pid {os.getpid()}")
            )
        except filelock.LockTimeout:
            raise StoreError(
                f"{self.root}: store is locked by another run (waited {timeout:.0f}s)"
            ) from None
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot open the store lock: {_why(exc)}") from None
        with held:
            modes.tighten_tree(self.root, OWN_ENTRIES)  # written 0644 by an older version
            yield

    def _ensure_root(self) -> None:
        try:
            modes.make_dir(self.root / "usage")
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create the store: {_why(exc)}") from None

    # ----------------------------------------------------------------------------- writing
    def append(self, collected: Collected) -> AppendReport:
        return self.append_stream([collected])

    def append_stream(self, chunks: Iterable[Collected],
                      on_day: Callable[[int, int], None] | None = None) -> AppendReport:
        """Add a stream of chunks: each day's samples are gathered first (spilled to
        ``ROOT/staging`` past a memory budget, without the lock), then every day is
        rewritten once and committed by its manifest rename, under the lock.  A chunk that
        fails validation stops the import before anything is written.  ``on_day(done,
        total)`` is called before the first day and after each."""
        report = AppendReport()
        specs: list[pd.DataFrame] = []
        events: list[pd.DataFrame] = []
        self._ensure_root()
        base = self.root / "staging"
        staging = DayStaging(spill_dir(base))
        try:
            for chunk in chunks:
                staging.add(chunk.usage)
                if not chunk.specs.empty:
                    specs.append(chunk.specs)
                if not chunk.events.empty:
                    events.append(chunk.events)
            with self.lock():
                remove_stale(base)
                days = staging.days()
                with DayCommits(self, report, len(days), on_day) as commits:
                    for day in days:
                        commits.commit(day, staging.take(day))
                if specs:
                    report.specs_rows = self._merge_table(
                        "specs.parquet", pd.concat(specs, ignore_index=True), SPEC_KEY,
                        keep="last")
                if events:
                    report.events_added = self._merge_table(
                        "events.parquet", pd.concat(events, ignore_index=True), None,
                        keep="first")
        except OSError as exc:  # spilling: the store itself is untouched
            raise StoreError(f"{base}: cannot write: {_why(exc)}") from None
        finally:
            staging.close()
        return report

    def _merge_table(
        self, name: str, new: pd.DataFrame, key: list[str] | None,
        *, keep: Literal["first", "last"],
    ) -> int:
        path = self.root / name
        old = _read_parquet(path) if path.exists() else None
        merged = new if old is None else pd.concat([old, new], ignore_index=True)
        cols = [c for c in (key or list(merged.columns)) if c in merged.columns]
        before = 0 if old is None else len(old)
        merged = merged.drop_duplicates(cols, keep=keep).reset_index(drop=True)
        try:
            _write_parquet(merged, path)
        except OSError as exc:
            raise StoreError(f"{path}: cannot write: {_why(exc)}") from None
        return len(merged) - before if keep == "first" else len(new)

    def apply_retention(self, keep_days: int, now: pd.Timestamp) -> int:
        """Drop days, events and specs older than ``keep_days`` before ``now``; returns how
        many days were dropped.  See :mod:`quotatune.store.retention`."""
        from quotatune.store import retention

        return retention.prune(self, keep_days, now).days

    def write_table(self, name: str, df: pd.DataFrame) -> None:
        """Replace ``ROOT/name`` (specs or events) atomically; the caller holds the lock."""
        path = self.root / name
        try:
            _write_parquet(df, path)
        except OSError as exc:
            raise StoreError(f"{path}: cannot write: {_why(exc)}") from None

    def write_text(self, name: str, text: str) -> None:
        _atomic_write_text(self.root / name, text)

    # ----------------------------------------------------------------------------- reading
    def day_dir(self, day: str) -> Path:
        return self.root / "usage" / f"day={day}"

    def days(self) -> list[str]:
        base = self.root / "usage"
        if not base.is_dir():
            return []
        return sorted(
            p.name.removeprefix("day=")
            for p in base.iterdir()
            if p.name.startswith("day=") and manifests.is_day(p.name.removeprefix("day="))
            and (p / manifests.MANIFEST).exists()
        )

    def manifest(self, day: str) -> dict[str, Any] | None:
        """The day's checked manifest (see :mod:`quotatune.store.manifests`), None if absent."""
        return manifests.load(self.day_dir(day))

    def _read_day(
        self, day: str, what: str = "data", columns: list[str] | None = None,
        filters: Any = None,
    ) -> pd.DataFrame | None:
        def read(path: Path) -> pd.DataFrame:
            if what == "rollup" and columns is not None:
                _check_rollup(path, columns)
            # Rollups keep their list columns as arrays (per-row tuples of Python
            # scalars would cost minutes on a fleet-sized day).
            return _read_parquet(path, tuples=what != "rollup", columns=columns,
                                 filters=filters)

        return manifests.read_named(self.day_dir(day), what, read)

    def _selected_days(self, since: pd.Timestamp | None, until: pd.Timestamp | None) -> list[str]:
        lo = since.tz_convert("UTC").strftime("%Y-%m-%d") if since is not None else None
        hi = until.tz_convert("UTC").strftime("%Y-%m-%d") if until is not None else None
        return [d for d in self.days() if (lo is None or d >= lo) and (hi is None or d <= hi)]

    def iter_usage_days(
        self, target: model.Target | None = None, since: pd.Timestamp | None = None,
        until: pd.Timestamp | None = None,
    ) -> Iterator[tuple[date, pd.DataFrame]]:
        for day, df in self.scan_usage(target=target, since=since, until=until):
            yield date.fromisoformat(day), reads.plain_names(df)

    def read_usage(
        self, target: model.Target | None = None, since: pd.Timestamp | None = None,
        until: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        parts = [df for _, df in self.iter_usage_days(target, since, until)]
        return pd.concat(parts, ignore_index=True) if parts else model.empty_usage()

    def read_rollups(
        self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
        columns: list[str] | None = None, target: model.Target | None = None,
        fold_pods: bool = False, keys: list[model.ContainerKey] | None = None,
    ) -> pd.DataFrame | None:
        """Per-day summaries, recomputed for days written without (or with an older) rollup.
        ``columns``: read only these (a strategy needs a few of the histograms); ``target``:
        only its containers, filtered inside Parquet; ``keys``: only these containers (of
        the target); ``fold_pods``: each day's pods merged per container as it is read
        (:func:`quotatune.rollup.merge.fold_pods`)."""
        if self.rollup is None:
            return None
        where = reads.target_filter(target)
        if keys is not None:
            if not keys:
                return None
            where = reads.both(where, reads.keys_filter(keys))
        parts = []
        for day in self._selected_days(since, until):
            m = self.manifest(day)
            if m is None:
                continue
            if m.get("rollup") and m.get("rollup_version") == self.rollup_version:
                r = self._read_day(day, "rollup", columns, where)
            else:
                # Rollups are per container: rolling up the target's samples is exact.
                data = self._read_day(day, filters=where)
                r = None if data is None or data.empty else self.rollup(data)
                r = r[columns] if r is not None and columns is not None else r
            if r is not None and keys is not None:
                r = reads.keep_keys(r, keys)
            if r is not None and not r.empty:
                parts.append(merge.fold_pods(r) if fold_pods else r)
        return reads.concat_rollups(parts)

    def scan_usage(
        self, columns: list[str] | None = None, *, target: model.Target | None = None,
        keys: list[model.ContainerKey] | None = None, since: pd.Timestamp | None = None,
        until: pd.Timestamp | None = None, days: list[str] | None = None,
    ) -> Iterator[tuple[str, pd.DataFrame]]:
        """Day by day, oldest first: see :func:`quotatune.store.reads.scan`."""
        yield from reads.scan(self._read_day, self._selected_days(since, until)
                              if days is None else days, columns, target=target, keys=keys,
                              since=since, until=until)

    def read_specs(self) -> pd.DataFrame:
        path = self.root / "specs.parquet"
        return _read_parquet(path) if path.exists() else model.empty_specs()

    def read_events(self) -> pd.DataFrame:
        path = self.root / "events.parquet"
        return _read_parquet(path) if path.exists() else model.empty_events()

    def read(self, target: model.Target | None = None) -> Collected:
        return Collected(
            usage=self.read_usage(target), specs=self.read_specs(), events=self.read_events()
        )


# --------------------------------------------------------------------------------- file helpers
def _check_rollup(path: Path, columns: list[str]) -> None:
    """Refuse a rollup file without the columns asked for: a projected read leaves out what
    a file lacks (a day's samples may lack optional columns), so another Parquet file put in
    a rollup's place read as rows without their key columns and failed deep in a merge."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        have = set(pq.read_schema(path).names)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise StoreError(f"{path}: unreadable store file: {first_line(exc)}") from None
    missing = [c for c in columns if c not in have]
    if missing:
        raise StoreError(f"{path}: not a rollup of this store: lacks column "
                         + ", ".join(repr(c) for c in missing[:5])
                         + (" ..." if len(missing) > 5 else ""))


def _read_parquet(
    path: Path, *, tuples: bool = True, columns: list[str] | None = None, filters: Any = None,
) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if columns is None and filters is None:
            table = pq.read_table(path)
        else:  # a projected or filtered read: only the stored columns asked for
            table = reads.read_table(path, columns, filters)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise StoreError(f"{path}: unreadable store file: {exc}") from None
    if not tuples and HOURS in table.column_names:
        _check_hours(table[HOURS], path)
    df = table.to_pandas()
    for fld in table.schema:
        if tuples and pa.types.is_list(fld.type):
            df[fld.name] = df[fld.name].map(lambda v: () if v is None else tuple(v))
    return df


HOURS = "mem_hour_max"


def _check_hours(column: Any, path: Path) -> None:
    """Refuse a rollup whose rows do not each hold 24 hourly peaks (a damaged or foreign
    file): the analysis lays them out a day a row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise StoreError(f"{path}: damaged rollup: {HOURS!r} is not a list of hourly peaks")
    lengths = pc.list_value_length(column)
    least, most = pc.min_max(lengths).values()
    if lengths.null_count or (len(lengths) and (least.as_py(), most.as_py()) != (24, 24)):
        raise StoreError(f"{path}: damaged rollup: a row of {HOURS!r} without its 24 hourly "
                         "peaks")

