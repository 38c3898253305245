"""Store files written whole or not at all: a temporary name, fsync, then rename.

See docs/architecture.md, "The store"; :mod:`quotatune.store.history` commits with these.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune.store import manifests, modes
from quotatune.store.reads import ROW_GROUP_ROWS


def why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        modes.fix_path(tmp)  # owner-only whatever the umask
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    def write(p: Path) -> None:
        p.write_text(text)

    atomic_write_bytes(path, write)


# Measured values are nearly all distinct: trying a dictionary for them first (the writer's
# default) cost half the write and made larger files than splitting their bytes into streams,
# which zstd compresses well.  Names, times on a scrape grid, requests and limits repeat: those
# keep their dictionaries.  Half a million samples wrote in half the time, 25 % smaller.
MEASURED = ("cpu_cores", "memory_working_set_bytes", "cpu_throttled_ratio")
FILTERED = ("timestamp", "namespace", "workload", "pod", "container")


def write_usage_table(df: pd.DataFrame, path: Path) -> None:
    """A day's samples.  Names go in dictionary-encoded, as they are in memory, but without
    the Arrow schema: a reader gets them back as text, exactly as from a day written by an
    older version.  Row groups of 128 Ki rows let a filtered read skip what it does not
    want."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    measured = [c for c in MEASURED if c in table.column_names]
    # Statistics only where a filtered read looks (names, time; store/reads.py), and a whole
    # row group encoded per batch instead of 1,024 rows: a fifth of each day's write, for
    # the same file apart from min/max of the numbers, which no read uses.
    filtered = [c for c in table.column_names if c in FILTERED]
    atomic_write_bytes(path, lambda p: pq.write_table(
        table, p, compression="zstd", row_group_size=ROW_GROUP_ROWS, store_schema=False,
        use_dictionary=[c for c in table.column_names if c not in measured],
        use_byte_stream_split=measured, write_statistics=filtered or False,
        write_batch_size=ROW_GROUP_ROWS))


def write_parquet(df: pd.DataFrame | Any, path: Path, row_group_size: int | None = None,
                  *, typed: bool = False) -> None:
    """``df`` (a frame, or a ``pyarrow.Table`` written as it is) as a Parquet file;
    ``typed``: its object columns hold only arrays, text or None (a rollup's), so
    :func:`parquet_safe`'s look at every value is skipped (a month of CronJob pods: 1 s of
    the import, for rollups it never changed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = (df if not isinstance(df, pd.DataFrame) else
             pa.Table.from_pandas(df if typed else parquet_safe(df), preserve_index=False))
    # Only text gets a dictionary: trying one on every column first (the writer's default)
    # was a third of a day's rollup write, on sums, times and histograms that rarely repeat,
    # for a larger file (10,000 pods' day: 52 -> 35 ms, 3.73 -> 3.61 MB).
    text = [f.name for f in table.schema if pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type) or pa.types.is_dictionary(f.type)]
    atomic_write_bytes(path, lambda p: pq.write_table(table, p, compression="zstd",
                                                      row_group_size=row_group_size,
                                                      use_dictionary=text or False))


def parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns Parquet cannot type: tuples become lists (stored as list<string>),
    dicts become JSON text, and mixed scalars become text."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = set(map(type, out[col].dropna()))
            if kinds & {list, tuple}:
                out[col] = out[col].map(
                    lambda v: [str(x) for x in v] if isinstance(v, list | tuple) else []
                )
            elif dict in kinds:
                out[col] = out[col].map(lambda v: json.dumps(v) if isinstance(v, dict) else v)
            elif len(kinds) > 1:
                out[col] = out[col].map(lambda v: v if v is None else str(v))
    return out


def remove_unreferenced(d: Path) -> None:
    """Delete data/rollup/tmp files the current manifest does not point to; nothing when
    the manifest is damaged, since then which files are the day's is unknown."""
    keep = manifests.named_files(d)
    if keep is None:
        return
    with contextlib.suppress(OSError):
        for p in d.iterdir():
            if p.name not in keep:
                p.unlink(missing_ok=True)
