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


# A sample or event stamped more than this after the clock comes from a skewed clock: every
# path leaves it out and says how many (a sample would stretch the history and shift decayed
# weights; an OOM kill dated tomorrow would be every container's latest failure).
FUTURE_TOLERANCE = pd.Timedelta(minutes=10)


def future_limit(now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The latest time a sample or event may carry: ``now`` (default: the clock) plus
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


def drop_future_events(events: pd.DataFrame, limit: pd.Timestamp
                       ) -> tuple[pd.DataFrame, int]:
    """``events`` without those stamped after ``limit``, and how many those were.  An event
    without a time (NaT) is kept: nothing says it is late.  Returned as it is when nothing
    is late."""
    if events.empty or "timestamp" not in events.columns:
        return events, 0
    at = pd.to_datetime(events["timestamp"], utc=True, errors="coerce")
    late = (at > limit).to_numpy(dtype=bool)  # NaT compares False: kept
    count = int(late.sum())
    return (events[~late], count) if count else (events, 0)


def future_note(count: int, limit: pd.Timestamp, what: str = "sample") -> str:
    """The note of a run that left ``count`` future samples (or events: ``what``) out."""
    return (f"ignored {count} {what}(s) stamped in the future "
            f"(after {limit:%Y-%m-%dT%H:%M}Z): check the source's clock")


def future_notes(limit: pd.Timestamp, samples: int, events: int) -> list[str]:
    """The notes of a run that left ``samples`` samples and ``events`` events out, each
    said only when there were some."""
    return [future_note(n, limit, what) for n, what in ((samples, "sample"), (events, "event"))
            if n]
