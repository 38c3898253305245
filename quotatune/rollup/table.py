"""A day's rollup as an Arrow table, for the store's writer.

The list columns (hourly peaks, histograms) go in as their values end to end and each row's
offsets.  A frame holds one array object per row and list column, which Parquet's writer then
took apart again: 7 ms of each day's commit of a 1,000-container CSV import, a tenth of it.
The table holds the values :func:`quotatune.rollup.sketch.daily_rollup` gives, with missing
numbers as nulls, as its frame's conversion writes them (tests compare the two).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quotatune.rollup.sketch import ROLLUP_COLUMNS, Flat, empty_rollup, rollup_columns


def rollup_table(day_usage: pd.DataFrame) -> Any:
    """:func:`quotatune.rollup.sketch.daily_rollup` of ``day_usage`` (every column) as a
    ``pyarrow.Table``."""
    import pyarrow as pa

    if day_usage.empty:
        return pa.Table.from_pandas(empty_rollup(), preserve_index=False)
    out, by_key = rollup_columns(day_usage)
    rows = len(out["n"])
    table = pa.Table.from_arrays([_array(out[c], rows) for c in ROLLUP_COLUMNS],
                                 names=ROLLUP_COLUMNS)
    return table if by_key is None else table.take(pa.array(by_key))


def _array(column: Any, rows: int) -> Any:
    import pyarrow as pa

    if isinstance(column, Flat):
        values, offsets = column
        return pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32)),
                                        pa.array(values, from_pandas=True))
    if isinstance(column, str):  # a constant (no platform column)
        return pa.array([column] * rows, type=pa.large_string())
    if isinstance(column, np.ndarray) and column.dtype == object:  # names, as text
        return pa.array(column, type=pa.large_string(), from_pandas=True)
    return pa.array(column, from_pandas=True)
