"""Typed Arrow tables (canonical Parquet row groups, pyarrow's CSV reader) as pandas frames,
column by column, without ``Table.to_pandas``'s generic conversion.

``to_pandas`` copies every float column that has a null, gives timestamps in the file's unit
(so validation converts them once more) and rebuilds each dictionary's categories through a
generic path; on a large file that conversion cost as much as the validation after it.
Here a column of the usual types (float64, a timestamp that fits nanoseconds, a dictionary
of strings) becomes its pandas column directly; any other column goes through ``to_pandas``
as before, so the frame :func:`quotatune.model.validate_usage` sees holds the same values
either way and reports the same errors.  A dictionary that repeats a value, which
``to_pandas`` refuses with a traceback, is encoded again instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quotatune.model import NS_PER_UNIT, TIME_SPAN_NS, validate_usage
from quotatune.model.chunk import UsageColumns, names_as_given
from quotatune.model.errors import InputError
from quotatune.model.frames import SHARES, USAGE_OPTIONAL_FLOAT, USAGE_REQUIRED
from quotatune.rollup.namehash import POD_KEY

_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


def table_frame(table: Any, source: str) -> pd.DataFrame:
    """``table`` (a ``pyarrow.Table``) as a frame with the same columns and values as
    ``table.to_pandas(ignore_metadata=True)``; timestamps come out in nanoseconds, UTC.
    Columns are taken by position: a pandas index recorded in the file (a slice, a reversed
    frame, a time index) is not rebuilt, so every column lines up with the file's rows.  A
    column name given twice is an :class:`InputError` naming ``source``."""
    import pyarrow as pa

    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            raise InputError(f"{source}: column {name!r} appears twice")
        seen.add(name)
    table = table.replace_schema_metadata(None)
    if any(pa.types.is_dictionary(c.type) and c.num_chunks > 1 for c in table.columns):
        # Chunks (row groups, CSV blocks) each bring their own dictionary: one for all of
        # them, the indices remapped (encoding the text again cost 20x more).
        table = table.unify_dictionaries()
    columns: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        direct = _direct(column, f"{source}: column {name!r}")
        columns[name] = (direct if direct is not None
                         else table.select([name]).to_pandas(split_blocks=True)[name])
    return pd.DataFrame(columns, copy=False)


def _direct(column: Any, where: str) -> Any:
    """The pandas column for the usual Arrow types, or None for any other (and for
    timestamps the generic path must report); ``where`` names the column in errors."""
    import pyarrow as pa

    t = column.type
    if pa.types.is_float64(t):
        return _numpy(column)
    if pa.types.is_timestamp(t):
        return _timestamps(column)
    if pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type)
                                       or pa.types.is_large_string(t.value_type)):
        return _categorical(column, where)
    return None


def _numpy(column: Any) -> np.ndarray:
    """Float64 values, nulls as NaN (zero-copy when one chunk has no nulls)."""
    import pyarrow.compute as pc

    # A column with nulls (a limit some containers do not set) is filled in Arrow, then
    # taken as it is: to_numpy's own conversion of nulls cost twice as much (4 -> 2 ms per
    # million rows).
    parts = [(pc.fill_null(c, np.nan) if c.null_count else c).to_numpy(zero_copy_only=False)
             for c in column.chunks]
    if not parts:
        return np.empty(0, dtype="float64")
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _timestamps(column: Any) -> pd.Series | None:
    """Nanoseconds since the epoch, UTC: Arrow keeps instants in UTC whatever the column's
    zone, and a column without one is read as UTC, as validation reads it.  Nulls, or times
    that do not fit in nanoseconds, are left to the generic path, which reports them."""
    if column.null_count:
        return None
    scale = NS_PER_UNIT[column.type.unit]
    lo, hi = TIME_SPAN_NS
    parts = [c.to_numpy(zero_copy_only=False).view("int64") for c in column.chunks]
    if not parts:
        return None
    v = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if len(v) and not (lo <= int(v.min()) * scale and int(v.max()) * scale <= hi):
        return None
    if scale == 1:  # Arrow's own buffer (read-only): pandas copies it as it types it UTC
        return pd.Series(v.view("datetime64[ns]"), dtype=_UTC_NS, copy=False)
    # A fresh array, typed UTC where it lies: the public constructors copy it once more to
    # localise it (a fifth of a Parquet chunk's conversion), which UTC instants do not need.
    ns = (v * scale).view("datetime64[ns]")
    simple_new = getattr(pd.arrays.DatetimeArray, "_simple_new", None)
    if simple_new is None:
        return pd.Series(ns, dtype=_UTC_NS, copy=False)
    return pd.Series(simple_new(ns, dtype=_UTC_NS), copy=False)


def _categorical(column: Any, where: str) -> pd.Categorical[Any]:
    code, categories = dictionary_codes(column, where)
    # The codes were checked and renumbering maps them into the names kept: pandas' own
    # check of every code would find nothing.
    return pd.Categorical.from_codes(code, dtype=_dtype(categories), validate=False)


def dictionary_codes(column: Any, where: str, *, checked: bool = True
                     ) -> tuple[np.ndarray, pd.Index]:
    """A dictionary column as codes (as they are, nulls as -1) into its distinct names,
    those of a categorical over it.  A dictionary with nulls or repeated values (which
    ``to_pandas`` refuses), or chunks that still differ, are encoded again into one
    dictionary first.  An index
    past the dictionary (a damaged file: Parquet's reader passes them on) is an
    :class:`InputError`; without ``checked``, the caller checks the codes of a dictionary
    of up to 1024 names (larger ones are counted, which needs them checked)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = column.chunks
    if not chunks:
        return np.empty(0, dtype=np.int32), pd.Index([], dtype="str")
    dictionary = chunks[0].dictionary
    if any(not c.dictionary.equals(dictionary) for c in chunks[1:]) or dictionary.null_count:
        chunks, dictionary = _encoded_again(column)
    codes = [_codes(c.indices) for c in chunks]
    code = codes[0] if len(codes) == 1 else np.concatenate(codes)
    if (checked or len(dictionary) > 1024) and len(code) and (
            code.min() < -1 or code.max() >= len(dictionary)):
        raise InputError(f"{where}: a name's index is past the file's {len(dictionary)} "
                         "names (a damaged file)")
    used = (np.bincount(code[code >= 0], minlength=len(dictionary)) > 0
            if len(dictionary) > 1024 else None)
    if used is not None and 2 * int(used.sum()) < len(dictionary):
        # A frame's categorical written whole brings every value of the file into each row
        # group (a month of CronJob pods: 1.7 M names for a group's 330,000): the names its
        # rows use, in the dictionary's order, cost a count instead of 1.7 M strings a chunk
        # (hashed for repeats below, and for the pods' keys downstream).  Counted whenever
        # the dictionary is large: a group of a million rows used a fifth of its 1.7 M.
        renumber = np.cumsum(used) - 1
        code = np.where(code >= 0, renumber[np.maximum(code, 0)], -1)
        dictionary = dictionary.filter(pa.array(used))
    # Repeated names are looked for among those the rows use only (hashing the whole 1.7 M
    # names of each row group above was 0.3 s a chunk); a repeat means encoding again.
    if len(pc.unique(dictionary)) != len(dictionary):
        chunks, dictionary = _encoded_again(column)
        code = _codes(chunks[0].indices)
    return code, pd.Index(dictionary.cast(pa.string()).to_pandas())


def _encoded_again(column: Any) -> tuple[list[Any], Any]:
    """``column``'s text encoded into one dictionary of the values its rows hold, each once."""
    import pyarrow as pa

    encoded = column.cast(pa.string()).combine_chunks().dictionary_encode()
    return [encoded], encoded.dictionary


def _dtype(categories: pd.Index) -> pd.CategoricalDtype:
    """The categorical dtype over ``categories``, known unique and without nulls.  The public
    constructor proves that again with a hash table of one Python string per name (a CronJob
    month: 1.5 s and ~80 MB a million names, in every chunk); pandas' own fast path takes
    the names as they are, where this pandas has it."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    return fast(categories, False) if fast is not None else pd.CategoricalDtype(categories)


def _codes(indices: Any) -> np.ndarray:
    """Dictionary indices as signed codes, nulls as -1."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_unsigned_integer(indices.type):
        indices = indices.cast(pa.int64())
    return (pc.fill_null(indices, -1) if indices.null_count else indices).to_numpy()


# A chunk whose pods average fewer samples than this is made a frame (see table_columns).
SHORT_PODS = 8


def table_columns(table: Any, source: str, row_offset: int) -> UsageColumns | None:
    """``table`` (a canonical Parquet chunk) as typed columns for the compiled pass, when it
    is the usual chunk: times without nulls, the four name columns as dictionaries of
    valid names without nulls (:func:`quotatune.model.chunk.names_as_given`), valid node
    names if any (not rolled up: only checked), float64
    numbers, CPU and memory without nulls, no column twice, pods of more than a few
    samples each (:data:`SHORT_PODS`).  None otherwise: the caller
    makes a frame of it (:func:`table_frame`, then validation)."""
    import pyarrow as pa

    names = table.column_names
    if len(set(names)) != len(names) or not set(POD_KEY) <= set(names) \
            or "timestamp" not in names:
        return None
    if any(c.num_chunks != 1 for c in table.columns):
        table = table.unify_dictionaries().combine_chunks()
    ts = table.column("timestamp").chunk(0)
    if not pa.types.is_timestamp(ts.type) or ts.null_count:
        return None
    chunk = UsageColumns(
        ts=np.frombuffer(ts.buffers()[1], dtype=np.int64)[ts.offset:ts.offset + len(ts)],
        scale=NS_PER_UNIT[ts.type.unit], names={}, numbers={}, source=source,
        row_offset=row_offset,
        frame=lambda: validate_usage(table_frame(table, source), source, row_offset=row_offset))
    for name, column in zip(names, table.columns, strict=True):
        t = column.type
        if name in POD_KEY or name == "platform":
            if not (pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type)
                                                   or pa.types.is_large_string(t.value_type))):
                return None
            if column.null_count:
                return None
            if name == "pod" and _short_pods(column.chunk(0), len(table)):
                # Pods of a few samples each (a CronJob's): numpy rolls such a chunk up a
                # part at a time; its pods' names made text at once cost 150 MB more.
                return None
            # The compiled pass checks the codes of a small dictionary itself.
            codes, values = dictionary_codes(column, f"{source}: column {name!r}",
                                             checked=False)
            if not names_as_given(values, name):
                return None
            chunk.names[name] = (codes.astype(np.int32, copy=False), values)
        elif name == "node" and not _nodes_as_given(column):
            return None
        elif name in ("cpu_cores", "memory_working_set_bytes", *USAGE_OPTIONAL_FLOAT):
            if not pa.types.is_float64(t) or (column.null_count and name in USAGE_REQUIRED):
                return None
            # Taken as they lie, nulls by their bitmap (filling them was 4 ms a chunk).
            array = column.chunk(0)
            if name in SHARES and not _shares_as_given(array):
                return None
            valid, values = array.buffers()
            chunk.numbers[name] = np.frombuffer(values, dtype=np.float64,
                                                count=array.offset + len(array))[array.offset:]
            if array.null_count:
                chunk.valid[name] = (np.frombuffer(valid, dtype=np.uint8), array.offset)
    if not {"cpu_cores", "memory_working_set_bytes"} <= set(chunk.numbers):
        return None
    return chunk


def _shares_as_given(array: Any) -> bool:
    """Whether a share column (nulls and NaN being missing) is at most 1: the compiled pass
    checks every number from 0 to 2^53, and validation refuses a share above 1."""
    import pyarrow.compute as pc

    if array.null_count:
        most = pc.max(array).as_py()  # skips nulls and NaN
        return most is None or most <= 1.0
    # Without nulls every slot holds its value: numpy's reduction is a tenth of Arrow's
    # (0.3 against 3 ms a million rows), and fmax skips NaN as Arrow does.
    values = np.frombuffer(array.buffers()[1], dtype=np.float64,
                           count=array.offset + len(array))[array.offset:]
    most = np.fmax.reduce(values) if len(values) else np.nan
    return bool(np.isnan(most) or most <= 1.0)


def _nodes_as_given(column: Any) -> bool:
    """Whether a node column needs nothing of validation: nodes are not rolled up, but
    validation refuses a name no node may have, and this pass must refuse what it does."""
    import pyarrow as pa

    t = column.type
    if pa.types.is_null(t):
        return True
    if not (pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type)
                                           or pa.types.is_large_string(t.value_type))):
        return False
    return names_as_given(pd.Index(column.chunk(0).dictionary.to_pylist()), "node")


def _short_pods(pods: Any, rows: int) -> bool:
    """Whether the rows' pods (a dictionary array) average fewer than :data:`SHORT_PODS`
    samples: counted only when the dictionary is that large (a frame's categorical
    written whole brings all of a file's names into every row group)."""
    if SHORT_PODS * len(pods.dictionary) <= rows:
        return False
    codes = pods.indices.to_numpy(zero_copy_only=False)
    used = np.count_nonzero(np.bincount(codes, minlength=len(pods.dictionary)))
    return bool(SHORT_PODS * used > rows)
