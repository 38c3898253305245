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


# A sample stamped more than this after the clock comes from a skewed clock: every path
# leaves it out and says how many (it would stretch the history and shift decayed weights).
FUTURE_TOLERANCE = pd.Timedelta(minutes=10)


def future_limit(now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The latest time a sample may carry: ``now`` (default: the clock) plus
    :data:`FUTURE_TOLERANCE`.  Taken once per run, so every chunk meets the same limit."""
    return (now if now is not None else pd.Timestamp.now(tz="UTC")) + FUTURE_TOLERANCE


def drop_future(usage: pd.DataFrame, limit: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """``usage`` without its samples stamped after ``limit``, and how many those were.  The
    newest time is looked at first (one reduction over the column, nothing copied): the
    frame is masked only when something is late, and returned as it is otherwise."""
    if usage.empty:
        return usage, 0
    ns = utc_ns(usage["timestamp"])
    if int(ns.max()) <= limit.value:
        return usage, 0
    late = ns > limit.value
    return usage[~late], int(late.sum())


def future_note(count: int, limit: pd.Timestamp) -> str:
    """The note of a run that left ``count`` future samples out."""
    return (f"ignored {count} sample(s) stamped in the future "
            f"(after {limit:%Y-%m-%dT%H:%M}Z): check the source's clock")
