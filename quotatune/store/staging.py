"""Usage chunks grouped by UTC day before they are written, with bounded memory.

A streaming import meets a day in many chunks (a file ordered container by container holds
every day in every chunk), but the store rewrites a day whole, once.  :class:`DayStaging`
keeps each day's chunks as Arrow tables (names dictionary-encoded) up to a memory budget,
then spills them to Arrow IPC files in a private directory; :meth:`DayStaging.take` gives one
day back as a frame.  :func:`merge_day` deduplicates and sorts a day with integer keys, never
row by row.  See docs/architecture.md, "The store".
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quotatune.rollup import runs
from quotatune.store import modes

DAY_NS = 86_400 * 10**9
BUDGET_BYTES = 384 << 20
NAMES = ("namespace", "workload", "pod", "container")
SORT_KEY = ("namespace", "workload", "container", "pod")  # then timestamp
TEXT = ("namespace", "workload", "pod", "container", "workload_kind", "node", "platform")


def _dictionary() -> Any:
    import pyarrow as pa

    return pa.dictionary(pa.int32(), pa.string())


def to_arrow(df: pd.DataFrame) -> Any:
    """A usage frame as an Arrow table with one schema per column whatever the chunk:
    text dictionary-encoded (int32 indices), times in UTC nanoseconds, numbers float64.
    A missing number stays NaN (the table is private: :func:`from_arrow` gives NaN for
    null and NaN alike, and the store's writer turns NaN into null)."""
    import pyarrow as pa

    return normalise(pa.Table.from_arrays([_array(df[c]) for c in df.columns],
                                          names=[str(c) for c in df.columns]))


def _array(s: pd.Series) -> Any:
    """``s`` as an Arrow array without ``from_pandas``' look at every number for NaN (on a
    thread pool the CLI's main thread waited for: 20-30 ms of each million-row chunk)."""
    import pyarrow as pa

    if s.dtype == np.float64:
        return pa.array(s.to_numpy(), type=pa.float64())
    if isinstance(s.dtype, pd.DatetimeTZDtype) and str(s.dtype.tz) == "UTC" \
            and s.dtype.unit == "ns" and not s.isna().any():
        return pa.array(s.array.asi8, type=pa.timestamp("ns", tz="UTC"))
    if isinstance(s.dtype, pd.CategoricalDtype) and s.cat.categories.inferred_type == "string":
        codes = s.cat.codes.to_numpy().astype(np.int32)
        missing = codes < 0
        # A categorical's codes index its categories by construction: not checked again.
        return pa.DictionaryArray.from_arrays(
            pa.array(codes, mask=missing if missing.any() else None),
            pa.array(np.asarray(s.cat.categories, dtype=object), type=pa.string()),
            safe=False)
    return pa.Array.from_pandas(s)


def normalise(table: Any) -> Any:
    """The canonical Arrow schema of a usage table (see :func:`to_arrow`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols, fields = [], []
    for name, col in zip(table.column_names, table.columns, strict=True):
        if name in TEXT:
            if not pa.types.is_dictionary(col.type):
                col = pc.dictionary_encode(col.cast(pa.string()))
            col = col.cast(_dictionary())
        elif name == "timestamp":
            col = col.cast(pa.timestamp("ns", tz="UTC"))
        elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type) \
                or pa.types.is_null(col.type):
            col = col.cast(pa.float64())
        cols.append(col)
        fields.append(pa.field(name, col.type))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def from_arrow(tables: list[Any]) -> pd.DataFrame:
    """Tables of :func:`to_arrow` as one frame with categorical names."""
    import pyarrow as pa

    # Each piece's names are cut to its rows' before the pieces' dictionaries are unified
    # (unifying every name of every chunk cost more than the rest of the conversion).
    tables = [_used_names_only(t) for t in tables]
    table = pa.concat_tables(tables, promote_options="default").unify_dictionaries()
    return table.combine_chunks().to_pandas()


def _used_names_only(table: Any) -> Any:
    """``table`` with each dictionary cut to the names its rows use, where the dictionary is
    larger than a quarter of the rows.  A day's rows are a slice of chunks whose
    dictionaries hold the names of every day: with short-lived pods (a CronJob's), each day
    turned every pod name of the file into text again."""
    import pyarrow as pa

    for i, col in enumerate(table.columns):
        if not pa.types.is_dictionary(col.type) or col.num_chunks != 1:
            continue
        arr = col.chunk(0)
        if len(arr.dictionary) <= max(len(arr) // 4, 1024) or arr.null_count:
            continue
        codes = arr.indices.to_numpy()
        used, inverse = np.unique(codes, return_inverse=True)
        smaller = pa.DictionaryArray.from_arrays(
            pa.array(inverse.astype(codes.dtype, copy=False)), arr.dictionary.take(used))
        table = table.set_column(i, table.field(i), smaller)
    return table


class DayStaging:
    """Per-day chunks in memory, spilled under ``spill_dir`` past ``budget`` bytes."""

    def __init__(self, spill_dir: Path, budget: int = BUDGET_BYTES) -> None:
        self.spill_dir = spill_dir
        self.budget = budget
        self._mem: dict[int, list[Any]] = defaultdict(list)
        self._files: dict[int, list[Path]] = defaultdict(list)
        self._bytes = 0
        self.rows = 0

    def add(self, usage: pd.DataFrame) -> None:
        if usage.empty:
            return
        ts = usage["timestamp"].to_numpy("datetime64[ns]").view("int64")
        day = ts // DAY_NS
        table = to_arrow(usage)
        lo, hi = int(day.min()), int(day.max())
        if lo == hi:
            self._keep(lo, table)
        else:
            order = np.argsort(day, kind="stable")
            bounds = np.searchsorted(day[order], np.arange(lo, hi + 2))
            # One gather of the whole chunk, then each day is a slice of it (no copy): a
            # gather per day cost several times more, in fresh buffers to fault in.
            by_day = _gathered(table, order)
            for d in range(lo, hi + 1):
                a, b = int(bounds[d - lo]), int(bounds[d - lo + 1])
                if b > a:
                    self._keep(d, by_day.slice(a, b - a))
        self.rows += len(usage)
        if self._bytes > self.budget:
            self.spill()

    def _keep(self, day: int, table: Any) -> None:
        self._mem[day].append(table)
        self._bytes += table.nbytes

    def spill(self) -> None:
        import pyarrow as pa

        modes.make_dir(self.spill_dir)
        for day, tables in self._mem.items():
            path = self.spill_dir / f"{day}-{len(self._files[day])}.arrow"
            # Cut to the day's own names first, as from_arrow does: each piece is a slice of
            # a chunk whose dictionaries hold every day's names (a month of CronJob pods:
            # 1.7 M names hashed again for every day at every spill, 3.5 s of a 26 s import).
            table = pa.concat_tables([_used_names_only(t) for t in tables],
                                     promote_options="default").unify_dictionaries()
            with pa.OSFile(str(path), "wb") as sink, \
                    pa.ipc.new_file(sink, table.schema,
                                    options=pa.ipc.IpcWriteOptions(compression="lz4")) as w:
                w.write_table(table.combine_chunks())
            modes.fix_path(path)
            self._files[day].append(path)
        self._mem.clear()
        self._bytes = 0

    def days(self) -> list[str]:
        nums = sorted(set(self._mem) | set(self._files))
        return [pd.Timestamp(d * DAY_NS, tz="UTC").strftime("%Y-%m-%d") for d in nums]

    def take(self, day: str) -> list[Any]:
        """The day's tables (removed from the staging)."""
        import pyarrow as pa

        d = int(pd.Timestamp(day, tz="UTC").value // DAY_NS)
        tables = self._mem.pop(d, [])
        self._bytes -= sum(t.nbytes for t in tables)
        for path in self._files.pop(d, []):
            with pa.memory_map(str(path)) as src:
                tables.append(pa.ipc.open_file(src).read_all())
            path.unlink(missing_ok=True)
        return tables

    def close(self) -> None:
        self._mem.clear()
        self._files.clear()
        shutil.rmtree(self.spill_dir, ignore_errors=True)

    def __enter__(self) -> DayStaging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spill_dir(base: Path) -> Path:
    """A private spill directory under ``base``, named after this process so that a later
    run can remove the leftovers of one that was killed (:func:`remove_stale`)."""
    return base / f"{os.getpid()}-{secrets.token_hex(4)}"


def remove_stale(base: Path) -> None:
    """Spill directories of processes that no longer run."""
    if not base.is_dir():
        return
    for d in base.iterdir():
        pid = d.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def merge_day(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One day's samples deduplicated on namespace/workload/pod/container/timestamp and
    sorted by namespace, workload, container, pod, time.  Of equal keys the earliest row
    wins, so rows put first (what the store already held) are kept over new ones.
    Returns the frame and how many rows were duplicates."""
    if frame.empty:
        return frame, 0
    keys = [_rank(frame[c]) for c in SORT_KEY]
    ts = frame["timestamp"].to_numpy("datetime64[ns]").view("int64")
    keep, dup = _kept_in_order(keys, ts)
    return frame.iloc[keep].reset_index(drop=True), dup


def merge_tables(tables: list[Any]) -> tuple[pd.DataFrame, int]:
    """:func:`merge_day` of :func:`from_arrow` of ``tables``, the same frame, with the rows
    gathered once, in Arrow, in their final order: joining the pieces, converting them and
    then gathering the frame moved every value of the day three times (a quarter of a CSV
    import's day commit)."""
    import pyarrow as pa

    tables = [_used_names_only(t) for t in tables if t.num_rows]
    if not tables:
        return pd.DataFrame(), 0
    table = pa.concat_tables(tables, promote_options="default").unify_dictionaries()
    keys = [_rank_dictionary(table.column(c)) for c in SORT_KEY]
    ts = _chunks_numpy(table.column("timestamp")).view("int64")
    keep, dup = _kept_in_order(keys, ts)
    # One chunk per column, as from_arrow gives; columns not consolidated into blocks (no
    # copy: the frame is written and rolled up column by column).
    kept = _gathered(table, keep).combine_chunks()
    return kept.to_pandas(split_blocks=True), dup


def _gathered(table: Any, rows: np.ndarray) -> Any:
    """``table``'s ``rows``, which are positions in it (an argsort's): Arrow's check of each
    index against the table's length was a fifth of the gather."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(rows) and not (0 <= int(rows.min()) and int(rows.max()) < table.num_rows):
        raise IndexError("row positions outside the table")
    return pc.take(table, pa.array(rows), boundscheck=False)


def _kept_in_order(keys: list[np.ndarray], ts: np.ndarray) -> tuple[np.ndarray, int]:
    """The rows to keep, in sorted order, and how many duplicates were dropped."""
    order = _runs_in_order(keys, ts)
    if order is None:
        # lexsort is stable: among equal keys the input order (old rows first) is kept.
        order = np.lexsort((ts, *reversed(keys)))
    dup = np.ones(len(order) - 1, dtype=bool)
    for k in (*keys, ts):
        s = k[order]
        dup &= s[1:] == s[:-1]
    return order[np.r_[True, ~dup]], int(dup.sum())


def _runs_in_order(keys: list[np.ndarray], ts: np.ndarray) -> np.ndarray | None:
    """The sorting order, found by sorting runs instead of rows, when each pod's rows are one
    run in time order (a new day from an export listed series by series); else ``None``."""
    change = runs.changes(keys, len(ts))
    starts = np.flatnonzero(change)
    # ranks (missing = -1) in one int64 that sorts like the tuple of them
    code = runs.combined([(k, int(k.max()) + 1) for k in keys], starts)
    if not runs.one_run_per_key(code, change, ts):
        return None
    return runs.runs_by_key(code, starts, len(ts))


def _rank(s: pd.Series) -> np.ndarray:
    """Integers that sort like the text of ``s`` (categorical: through its categories)."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("category")
    cats = np.asarray(s.cat.categories.astype(str), dtype=object)
    return _ranks_of(cats)[s.cat.codes.to_numpy()]


def _rank_dictionary(column: Any) -> np.ndarray:
    """:func:`_rank` of a dictionary column whose chunks share one dictionary."""
    import pyarrow as pa

    chunks = column.chunks
    dictionary = chunks[0].dictionary if chunks else pa.array([], pa.string())
    cats = np.asarray(dictionary.to_numpy(zero_copy_only=False), dtype=object)
    indices = pa.chunked_array([c.indices for c in chunks], type=column.type.index_type)
    return _ranks_of(cats)[_chunks_numpy(indices, fill=-1)]


def _ranks_of(cats: np.ndarray) -> np.ndarray:
    """Each category's place in text order, and -1 last, for the missing code -1 (which
    thus sorts first)."""
    rank = np.empty(len(cats) + 1, dtype=np.int64)
    rank[:-1] = np.argsort(np.argsort(cats, kind="stable"), kind="stable")
    rank[-1] = -1
    return rank


def _chunks_numpy(column: Any, fill: int | None = None) -> np.ndarray:
    """A chunked column as one numpy array (nulls as ``fill``)."""
    import pyarrow.compute as pc

    parts = [(pc.fill_null(c, fill) if fill is not None and c.null_count else c)
             .to_numpy(zero_copy_only=False) for c in column.chunks]
    if not parts:
        return np.empty(0, dtype=np.int64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
