"""File readers: canonical CSV/Parquet and the Bitbrains GWA-T-12 per-VM trace.

The registry that maps format names to readers is in :mod:`quotatune.sources.registry`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError, RowError, first_line
from quotatune.sources.text import line_of_row, open_text


def read_canonical_csv(path: Path) -> Collected:
    """A canonical CSV, whole; a bad row is named by its line in the file."""
    try:
        return parse_canonical_csv(path)
    except RowError as exc:
        raise exc.at_row(line_of_row(path, exc.row)) from None


def parse_canonical_csv(path: Path) -> Collected:
    """:func:`read_canonical_csv` with rows numbered as the parser counts them."""
    text = open_text(path)
    try:
        # Only an empty field is missing: pandas' default NA words would turn a container
        # named "null", "None" or "NA" into an "empty name" error.  "NaN" in a number
        # column is still caught by validate_usage, with its row.
        df = pd.read_csv(io.StringIO(text), dtype={"namespace": str, "workload": str,
                                                   "pod": str, "container": str},
                         keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{path}: not a readable CSV ({first_line(exc)})") from None
    return Collected(usage=model.validate_usage(df, str(path), row_offset=2))


def read_canonical_parquet(path: Path) -> Collected:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        df = pq.read_table(path).to_pandas()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({first_line(exc)})") from None
    return Collected(usage=model.validate_usage(df, str(path), row_offset=0))


_TRAILING_SEPARATOR = re.compile(r"([^\n]);[ \t]*(\r?)$", re.MULTILINE)
_BB_COLUMNS = {
    "Timestamp [ms]": "t",
    "CPU cores": "cores",
    "CPU capacity provisioned [MHZ]": "cap_mhz",
    "CPU usage [MHZ]": "use_mhz",
    "Memory capacity provisioned [KB]": "mem_cap_kb",
    "Memory usage [KB]": "mem_kb",
}


def read_bitbrains(path: Path) -> Collected:
    """One VM per file.  Quirks handled: ``;`` + TAB separators, epoch *seconds* under a
    header that says [ms], rows with 0 cores or 0 memory capacity (dropped), duplicated
    timestamps (last one kept)."""
    # A ";" ending a row gives it a value more than the header: where every row has one,
    # pandas takes the timestamps for the index and shifts every column by one.  Such files
    # usually end their first rows so; the substitution costs a third of a read, so it is
    # made up front only for them, and for any other file only if the parser finds a row
    # longer than the header.  A line of only ";" stays, a row (a bad one).  Rows that differ
    # otherwise are refused by the parser, naming one.
    text = open_text(path)
    rewritten = any(line.rstrip(" \t\r").endswith(";") for line in _head(text))
    if rewritten:
        text = _TRAILING_SEPARATOR.sub(r"\1\2", text)
    header, first = (_head(text) + ["", ""])[:2]
    if first.count(";") > header.count(";"):  # pandas would drop the values past the header
        raise InputError(f"{path}: not a Bitbrains trace (its rows have more values than its "
                         "header)")
    try:
        df = _bb_frame(text)
    except pd.errors.ParserError as exc:
        if rewritten or not _TRAILING_SEPARATOR.search(text):
            raise InputError(f"{path}: not a Bitbrains trace ({first_line(exc)})") from None
        try:  # rows further down end in ";": read again without it
            df = _bb_frame(_TRAILING_SEPARATOR.sub(r"\1\2", text))
        except (pd.errors.ParserError, ValueError) as again:
            raise InputError(f"{path}: not a Bitbrains trace ({first_line(again)})") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file") from None
    except ValueError as exc:
        raise InputError(f"{path}: not a Bitbrains trace ({first_line(exc)})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in _BB_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{path}: not a Bitbrains trace, missing column(s) {', '.join(missing)}")
    df = df[list(_BB_COLUMNS)].rename(columns=_BB_COLUMNS)
    for col in df.columns:
        v = pd.to_numeric(df[col], errors="coerce")
        arr = v.to_numpy(dtype="float64", na_value=np.nan)
        # Negative MHz or KB is corrupt data, not idleness: refuse it rather than clip it to 0
        # (the whole August trace has none).
        bad = ~np.isfinite(arr) | (arr < 0)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            name = next(k for k, x in _BB_COLUMNS.items() if x == col)
            raise InputError(
                f"{path}: column {name!r}, row {_bb_line(path, pos + 2)}: "
                f"not a non-negative number: "
                f"{str(df[col].iloc[pos]).strip()[:40]!r}"
            )
        df[col] = v.astype("float64")
    before = len(df)
    df = df[(df["cores"] > 0) & (df["mem_cap_kb"] > 0) & (df["cap_mhz"] > 0)]
    dropped_empty = before - len(df)
    dups = int(df.duplicated("t", keep="last").sum())
    df = df.drop_duplicates("t", keep="last").sort_values("t")
    if df.empty:
        raise InputError(f"{path}: no usable samples (every row has 0 cores or 0 memory)")
    vm = _vm_name(path)
    mhz_per_core = df["cap_mhz"] / df["cores"]
    usage = pd.DataFrame(
        {
            "timestamp": df["t"],
            "namespace": "bitbrains",
            "workload": vm,
            "pod": vm,
            "container": "vm",
            "cpu_cores": df["use_mhz"] / mhz_per_core,
            "memory_working_set_bytes": df["mem_kb"] * 1024,
            # The VM's own provisioning is its "current" request and limit.
            "cpu_request_cores": df["cores"],
            "cpu_limit_cores": df["cores"],
            "memory_request_bytes": df["mem_cap_kb"] * 1024,
            "memory_limit_bytes": df["mem_cap_kb"] * 1024,
        }
    )
    notes = []
    if dropped_empty:
        notes.append(f"{path.name}: dropped {dropped_empty} row(s) with 0 cores or 0 memory")
    if dups:
        notes.append(f"{path.name}: dropped {dups} duplicated timestamp(s)")
    try:
        checked = model.validate_usage(usage, str(path), row_offset=0)
    except RowError as exc:
        # Rows were dropped and sorted since the file was read: the frame's index still
        # holds each row's place in the file (the header is row 1).
        raise exc.at_row(_bb_line(path, int(usage.index[exc.row]) + 2)) from None
    return Collected(usage=checked, notes=notes)


def _bb_frame(text: str) -> pd.DataFrame:
    # ";" with the C parser: the TAB after each ";" is skipped as leading space, and this is
    # ~5x faster than a regex separator (the python engine) on a month of 500 VMs.
    # index_col=False: a first column is never taken for an index.
    return pd.read_csv(io.StringIO(text), sep=";", skipinitialspace=True, index_col=False)


def _head(text: str) -> list[str]:
    """The first lines of ``text`` that are not blank (the header, then the first rows)."""
    return [line for line in text.split("\n", 16)[:16] if line.strip(" \t\r")]


def _bb_line(path: Path, row: int) -> int:
    """The line of a Bitbrains file on which the parser's ``row`` starts."""
    return line_of_row(path, row, delimiter=";", skipinitialspace=True)


def _vm_name(path: Path) -> str:
    stem = path.name
    for suffix in (".gz", ".csv"):
        stem = stem.removesuffix(suffix)
    return f"vm-{stem}"

