"""Canonical CSV and Parquet read in chunks: a file of any size costs one chunk of memory,
except a plain CSV up to :data:`WHOLE_CSV_BYTES`, which costs its parsed table.

Parquet is read row group by row group with pyarrow's reader.  A CSV up to
:data:`WHOLE_CSV_BYTES` is parsed at once on every core and handed out in slices; a larger or
gzipped one is read block by block.  Tables become frames through
:func:`quotatune.sources.files.arrow_frames.table_frame`; the name columns stay
dictionary-encoded (pandas categoricals) and each chunk is validated by
:func:`quotatune.model.validate_usage`, whose errors name the file's row.  A CSV that
pyarrow's strict reader refuses (a value it cannot type, epoch seconds beside RFC 3339 text,
UTF-16) is read again by the tolerant pandas reader, which either accepts it or names the bad
row; the rows already yielded are not yielded twice.
"""

from __future__ import annotations

import ctypes
import gzip
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError, RowError, first_line
from quotatune.sources.files.arrow_frames import table_columns, table_frame
from quotatune.sources.text import line_of_row, read_bytes

CHUNK_ROWS = 1 << 20  # rows per Parquet chunk (whole row groups); CSV blocks hold about as many
# The streaming CSV reader parses a block on one thread before it hands anything out: 4 MiB
# blocks, gathered into chunks of CHUNK_ROWS, start the pipeline sooner than 64 MiB ones.  The
# whole-file parse spreads its blocks over the cores: 4 MiB ones balanced better than 8 MiB
# (276 MB on 2 cores: 0.43 -> 0.41 s; CSV import, median of 9 runs, 1.56 -> 1.53 s).
CSV_BLOCK_BYTES = 4 << 20
# A CSV up to this size is parsed whole, in parallel (its table took 0.5x the file's size on
# the benchmark's export, up to 1.3x for short values); a larger or compressed one is
# streamed block by block.
WHOLE_CSV_BYTES = 512 << 20
# Such a CSV is handed out in slices of this many rows: the first reaches the store's staging
# sooner, and each slice's conversion overlaps the staging of the one before (2 M rows: 1.61
# -> 1.58 s, median of 9 runs, 50 MB less at the peak).
CSV_SLICE_ROWS = 1 << 19
NAME_COLUMNS = ("namespace", "workload", "pod", "container", *model.USAGE_OPTIONAL_STR)
FLOAT_COLUMNS = ("cpu_cores", "memory_working_set_bytes", *model.USAGE_OPTIONAL_FLOAT)


def iter_canonical_parquet(path: Path, rows: int = CHUNK_ROWS, *, typed: bool = False
                           ) -> Iterator[Collected]:
    """The file's samples, a chunk of whole row groups at a time; with ``typed``, the usual
    chunk as typed columns (:func:`quotatune.sources.files.arrow_frames.table_columns`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = _present(path, NAME_COLUMNS)
        source, mapping = _mapped(path)
        pf = pq.ParquetFile(source, read_dictionary=names)
        wanted = [n for n in pf.schema_arrow.names
                  if n == "timestamp" or n in NAME_COLUMNS or n in FLOAT_COLUMNS]
        done = 0
        for table in _tables(pf, wanted, rows):
            if table.num_rows == 0:
                continue
            columns = table_columns(table, str(path), done) if typed else None
            if columns is not None:
                _release(mapping)
                yield Collected(columns=columns)
            else:
                df = table_frame(table, str(path))
                _release(mapping)
                yield Collected(usage=model.validate_usage(df, str(path), row_offset=done))
            done += table.num_rows
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({first_line(exc)})") from None
    if done == 0:
        raise InputError(f"{path}: no samples")


def _mapped(path: Path) -> tuple[Any, Any]:
    """The file as the Parquet reader takes it, and the mapping (None for a path): mapped, so
    the decoder reads pages where the page cache holds them instead of copying each into a
    buffer first (the 50 M-sample file: 2.0 -> 1.8 CPU s); its path, where it cannot be
    mapped (a file system without mappings).  One mapping of the file as opened: a file
    renamed over it, or removed, while it is read is still read whole as it was; one cut
    short in place ends the process with SIGBUS, as any mapped reader would, where a read
    reported the file.

    Arrow's mapping, not Python's ``mmap``: the decoder's tasks on Arrow's thread pool hold
    the file until the pool destroys them, which may be after the table has reached Python,
    and letting go of a buffer over a Python object takes the GIL.  A run that failed just
    after a read (an empty file's "no samples") could be shutting the interpreter down by
    then: the pool thread waiting for the GIL was ended by Python inside a C++ destructor,
    and std::terminate aborted the process (SIGABRT instead of exit 2).  Arrow unmaps its
    own mapping without Python."""
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as f:
            whole = f.read_buffer()  # the mapping itself, not a copy; it outlives the file
    except OSError:
        return path, None
    return pa.BufferReader(whole), whole


def _release(whole: Any) -> None:
    """Drop the pages a chunk touched from the process's resident memory (the page cache
    keeps them; they are read again from there if needed), so it follows one chunk, not
    the file."""
    dontneed = getattr(mmap, "MADV_DONTNEED", None)
    if whole is None or dontneed is None or whole.size == 0:
        return
    try:
        # Arrow's mapping has no madvise of its own: the C library's, on its address.
        madvise = ctypes.CDLL(None).madvise
    except (OSError, AttributeError):
        return
    madvise(ctypes.c_void_p(whole.address), ctypes.c_size_t(whole.size), dontneed)


def _tables(pf: Any, columns: list[str], rows: int) -> Iterator[Any]:
    """The file as tables of whole row groups, small ones together up to ``rows`` rows
    (batches that straddle row groups cost a dictionary unification each: reading by row
    group was twice as fast); a row group of more than twice ``rows`` is read in batches of
    ``rows``, each made a table."""
    import pyarrow as pa

    group: list[int] = []
    size = 0
    for i in range(pf.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if group and size + n > rows:
            # Several row groups only while they fit in ``rows``: a table of several holds
            # every column in pieces, which the frame copies into one array (and their
            # dictionaries are unified), so a row group of about ``rows`` rows goes alone.
            yield pf.read_row_groups(group, columns=columns)
            group, size = [], 0
        if n > 2 * rows:
            for batch in pf.iter_batches(batch_size=rows, row_groups=[i], columns=columns):
                yield pa.Table.from_batches([batch])
            continue
        group.append(i)
        size += n
    if group:
        yield pf.read_row_groups(group, columns=columns)


def _present(path: Path, names: tuple[str, ...]) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({first_line(exc)})") from None
    def text(t: Any) -> bool:
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t))

    return [n for n in names if n in schema.names and text(schema.field(n).type)]


def iter_canonical_csv(path: Path) -> Iterator[Collected]:
    """Chunks of a canonical CSV (see the module note for the fallback); a bad row is named
    by its line in the file."""
    try:
        yield from _csv_chunks(path)
    except RowError as exc:
        raise exc.at_row(line_of_row(path, exc.row)) from None


def _csv_chunks(path: Path) -> Iterator[Collected]:
    import pyarrow as pa

    yielded = 0
    try:
        for df in _arrow_csv_chunks(path):
            usage = model.validate_usage(df, str(path), row_offset=2 + yielded)
            yield Collected(usage=usage)
            yielded += len(df)
    except _Fallback:
        pass
    except pa.ArrowInvalid:
        pass
    else:
        if yielded == 0:
            raise InputError(f"{path}: no samples")
        return
    from quotatune.sources.files.tables import parse_canonical_csv

    whole = parse_canonical_csv(path).usage
    if yielded < len(whole):
        yield Collected(usage=whole.iloc[yielded:].reset_index(drop=True))


class _Fallback(Exception):
    """The file needs the pandas reader (UTF-16, unreadable by pyarrow)."""


def _arrow_csv_chunks(path: Path) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    head = read_bytes(path, 4)
    if not head:
        raise InputError(f"{path}: empty file")
    gz = head[:2] == b"\x1f\x8b"
    if not gz and head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise _Fallback
    dictionary = pa.dictionary(pa.int32(), pa.string())
    types: dict[str, Any] = {c: dictionary for c in NAME_COLUMNS}
    types.update({c: pa.float64() for c in FLOAT_COLUMNS})
    types["timestamp"] = pa.timestamp("ns", tz="UTC")
    convert = pacsv.ConvertOptions(
        column_types=types, null_values=[""], strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    if not gz and path.stat().st_size <= WHOLE_CSV_BYTES:
        # Parsed at once on every core (the streaming reader parses on one): a chunk is then
        # a slice of the table, and memory is bounded by WHOLE_CSV_BYTES instead of a block.
        try:
            table = pacsv.read_csv(str(path), read_options=pacsv.ReadOptions(
                block_size=CSV_BLOCK_BYTES, use_threads=True), convert_options=convert)
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                raise InputError(f"{path}: empty file") from None
            raise _Fallback from None
        for start in range(0, table.num_rows, CSV_SLICE_ROWS):
            yield _frame(table.slice(start, CSV_SLICE_ROWS).to_batches(), str(path))
        return
    source: Any = gzip.open(path, "rb") if gz else str(path)
    try:
        reader = pacsv.open_csv(source, read_options=pacsv.ReadOptions(
            block_size=CSV_BLOCK_BYTES), convert_options=convert)
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise InputError(f"{path}: empty file") from None
        raise _Fallback from None
    pending: list[Any] = []
    rows = 0
    for batch in reader:
        if batch.num_rows:
            pending.append(batch)
            rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            yield _frame(pending, str(path))
            pending, rows = [], 0
    if pending:
        yield _frame(pending, str(path))


def _frame(batches: list[Any], source: str) -> pd.DataFrame:
    """Batches of one CSV as a frame (each batch has its own dictionaries: the conversion
    unifies them)."""
    import pyarrow as pa

    # Converted as chunks: combine_chunks() first copied every column once more (the
    # conversion joins them anyway), which cost twice the conversion itself.
    return table_frame(pa.Table.from_batches(batches), source)

