"""Filtered reads of the store's Parquet files: only the columns and rows a command needs
(docs/architecture.md, "The store").

A day's samples are written sorted by namespace, workload, container, pod and time, in row
groups of :data:`ROW_GROUP_ROWS` rows, so a filter on the names is pushed down to Parquet and
skips every row group whose min/max statistics rule it out: ``recommend ns/app`` decodes a few
row groups per day, not the fleet.  Stores written with larger row groups (older versions) are
read the same way, only with less to skip.  Name columns are read dictionary-encoded and come
back categorical, so grouping millions of rows by them is a grouping of integer codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import reduce
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quotatune.model import ContainerKey, Target

ROW_GROUP_ROWS = 65_536
# A day's rollups are one row per pod's container, in the samples' order of names: groups
# of this many rows let a targeted read skip the rest of a day of many pods (a day of 57,600
# CronJob pods was one group, read whole for one CronJob's 288 rows).
ROLLUP_ROW_GROUP_ROWS = 4_096
NAME_COLUMNS = ("namespace", "workload", "pod", "container")


def target_filter(target: Target | None) -> Any:
    """The Parquet filter of ``target`` (None: every row)."""
    import pyarrow.dataset as ds

    if target is None or target.is_all:
        return None
    parts = [ds.field(col) == want for col, want in (
        ("namespace", target.namespace), ("workload", target.workload),
        ("container", target.container)) if want is not None]
    return reduce(lambda a, b: a & b, parts)


def keys_filter(keys: Iterable[ContainerKey]) -> Any:
    """A Parquet filter that keeps at least the rows of ``keys`` (a superset: each name column
    is tested on its own); :func:`keep_keys` then keeps exactly those containers."""
    import pyarrow.dataset as ds

    keys = list(keys)
    return ((ds.field("namespace").isin(sorted({k.namespace for k in keys}))
             & ds.field("workload").isin(sorted({k.workload for k in keys})))
            & ds.field("container").isin(sorted({k.container for k in keys})))


def keep_keys(df: pd.DataFrame, keys: Iterable[ContainerKey]) -> pd.DataFrame:
    """The rows of ``df`` whose container is one of ``keys``.  Each name column first keeps
    the rows of its wanted names (through the categories of a categorical one: a day of
    millions of rows is never made text), then the few rows left are matched whole."""
    keys = list(keys)
    rows = np.ones(len(df), dtype=bool)
    for i, col in enumerate(("namespace", "workload", "container")):
        s = df[col]
        wanted = {k[i] for k in keys}
        if isinstance(s.dtype, pd.CategoricalDtype):
            ok = np.append(s.cat.categories.astype(str).isin(wanted), False)  # code -1: no
            rows &= ok[s.cat.codes.to_numpy()]
        else:
            rows &= s.astype(str).isin(wanted).to_numpy()
    some = df[rows]
    whole = pd.MultiIndex.from_tuples([tuple(k) for k in keys])
    have = pd.MultiIndex.from_arrays([some["namespace"].astype(str),
                                      some["workload"].astype(str),
                                      some["container"].astype(str)])
    return some[have.isin(whole)]


def time_filter(since: pd.Timestamp | None, until: pd.Timestamp | None) -> Any:
    import pyarrow as pa
    import pyarrow.dataset as ds

    parts = []
    if since is not None:
        parts.append(ds.field("timestamp") >= pa.scalar(since.to_pydatetime(),
                                                        pa.timestamp("ns", tz="UTC")))
    if until is not None:
        parts.append(ds.field("timestamp") <= pa.scalar(until.to_pydatetime(),
                                                        pa.timestamp("ns", tz="UTC")))
    return reduce(lambda a, b: a & b, parts) if parts else None


def both(a: Any, b: Any) -> Any:
    """``a & b`` where either may be None (no filter)."""
    if a is None or b is None:
        return b if a is None else a
    return a & b


def read_table(path: Path, columns: list[str] | None, filters: Any) -> Any:
    """An Arrow table of ``path``: only ``columns`` (those the file has), only the rows
    ``filters`` keeps, names dictionary-encoded.  Raises FileNotFoundError as is."""
    import pyarrow.parquet as pq

    have = set(pq.read_schema(path).names)
    cols = None if columns is None else [c for c in columns if c in have]
    names = [c for c in NAME_COLUMNS if c in have and (cols is None or c in cols)]
    if filters is None:
        return pq.read_table(path, columns=cols, read_dictionary=names)
    return _only_used_names(_filtered(path, cols, names, filters))


def _filtered(path: Path, columns: list[str] | None, names: list[str], filters: Any) -> Any:
    """The rows ``filters`` keeps, names dictionary-encoded.  Row groups are chosen by their
    statistics on the file's own (text) schema first: read as dictionaries, the names' text
    statistics were not used, and one workload of a 10,000-container day decoded all 44 row
    groups (0.4 s a day; 0.01 s from its one row group)."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if not isinstance(filters, ds.Expression):  # the list form pq.read_table takes
        filters = pq.filters_to_expression(filters)
    plain = next(iter(ds.dataset(str(path), format="parquet").get_fragments()))
    groups = [g.id for part in plain.split_by_row_group(filters) for g in part.row_groups]
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=names))
    chosen = next(iter(ds.dataset(str(path), format=fmt).get_fragments())).subset(
        row_group_ids=groups)
    return chosen.to_table(columns=columns, filter=filters)


def _only_used_names(table: Any) -> Any:
    """``table`` with each name column's dictionary cut to the names its rows use.

    A filter keeps the row groups' whole dictionaries: the few rows of one CronJob came
    back with every pod of the day as a category, and building those categories (checked
    for uniqueness, day after day) cost more than reading the rows."""
    import pyarrow as pa

    for i, name in enumerate(table.column_names):
        column = table.column(i)
        if not pa.types.is_dictionary(column.type):
            continue
        words = sum(len(c.dictionary) for c in column.chunks)
        if words > max(len(column), 1024):
            table = table.set_column(
                i, name, column.cast(column.type.value_type).dictionary_encode())
    return table


def scan(
    read_day: Callable[..., pd.DataFrame | None], days: list[str], columns: list[str] | None,
    *, target: Target | None, keys: list[ContainerKey] | None, since: pd.Timestamp | None,
    until: pd.Timestamp | None,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """Day by day, oldest first: the samples of ``target`` (and, if given, of ``keys`` only)
    within ``since``..``until``, only ``columns`` (those stored), filtered inside Parquet.
    Names come back categorical.  Memory: one day of the selected columns."""
    where = both(target_filter(target), time_filter(since, until))
    if keys is not None:
        if not keys:
            return
        where = both(where, keys_filter(keys))
    for day in days:
        df = read_day(day, columns=columns, filters=where)
        if df is None or df.empty:
            continue
        if keys is not None:
            df = keep_keys(df, keys)
        if not df.empty:
            yield day, df.reset_index(drop=True)


def concat_rollups(parts: list[pd.DataFrame]) -> pd.DataFrame | None:
    """The days' rollups as one frame, names as text (as every rollup consumer expects)."""
    if not parts:
        return None
    return plain_names(pd.concat(parts, ignore_index=True))


def plain_names(df: pd.DataFrame) -> pd.DataFrame:
    """Categorical name columns (of a filtered read) back to text."""
    for col in NAME_COLUMNS:
        if col in df.columns and isinstance(df[col].dtype, pd.CategoricalDtype):
            df[col] = df[col].astype(str)
    return df
