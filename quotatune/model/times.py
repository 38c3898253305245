"""Instants as the analyses compute with them: int64 nanoseconds since the epoch, UTC."""

from __future__ import annotations

import numpy as np
import pandas as pd

_UTC_NS = "datetime64[ns, UTC]"


def utc_ns(times: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch of a column of times, read as UTC (naive times are UTC).
    A column that already holds UTC nanoseconds (what validation gives) is not copied: the
    result is then a view of it, to read, never to write."""
    t = times if str(times.dtype) == _UTC_NS else pd.to_datetime(times, utc=True)
    return t.to_numpy(dtype="datetime64[ns]").view("int64")
