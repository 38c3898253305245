"""The import flow: files streamed chunk by chunk into the history store, then retention.

Samples and events stamped in the future are left out before the store's staging, by the
rule ``--from`` follows (:func:`drop_future`, :func:`drop_future_events`,
:func:`future_notes`), so the store and the files give the same answers: a time after the
clock (plus a tolerance for clocks a little apart) comes from a skewed clock; kept, a row
dated 2200 made 1.5 million hours of history and, being the newest, set the current
requests and limits, and an OOM kill dated tomorrow stayed every later run's latest kill.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS
from quotatune.model.collected import Collected
from quotatune.model.times import drop_future, drop_future_events, future_limit, future_notes
from quotatune.pipelines.inputs import open_store
from quotatune.pipelines.prefetch import prefetched
from quotatune.pipelines.progress import NO_PROGRESS, Progress, day_steps, files_read
from quotatune.sources.registry import iter_files
from quotatune.store import AppendReport


@dataclass
class ImportResult:
    """What an import read and what the store made of it."""

    report: AppendReport
    files: int = 0
    samples_read: int = 0
    samples_future: int = 0  # read but left out: stamped in the future
    events_future: int = 0  # likewise
    containers: int = 0
    spec_rows_read: int = 0
    dropped_days: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def import_into_store(files: list[Path], fmt: str | None, root: Path, keep_days: int | None,
                      progress: Progress = NO_PROGRESS, *,
                      now: pd.Timestamp | None = None) -> ImportResult:
    """Stream ``files`` into the store at ``root``; nothing is written if any file is bad.
    Samples and events stamped after ``now`` (default: the clock) + 10 minutes are not
    stored, with the notes ``--from`` gives: both paths answer alike."""
    result = ImportResult(report=AppendReport(), files=len(files))
    keys: set[tuple[str, ...]] = set()
    st = open_store(root)
    limit = future_limit(now)

    def chunks() -> Iterator[Collected]:
        for _, _path, chunk in files_read(progress, prefetched(iter_files(files, fmt)),
                                          len(files)):
            result.samples_read += len(chunk.usage)
            usage, late = drop_future(chunk.usage, limit)
            events, late_events = drop_future_events(chunk.events, limit)
            if late or late_events:
                result.samples_future += late
                result.events_future += late_events
                chunk = replace(chunk, usage=usage, events=events)
            keys.update(_distinct_keys(chunk.usage))
            result.spec_rows_read += len(chunk.specs)
            result.notes += chunk.notes
            result.errors += chunk.errors
            yield chunk

    result.report = st.append_stream(chunks(), on_day=day_steps(progress, "writing days"))
    result.containers = len(keys)
    result.notes += future_notes(limit, result.samples_future, result.events_future)
    if keep_days is not None:
        # Counted back from the newest stored day (never from the future): importing last
        # year's trace with --keep-days 7 keeps its last week instead of deleting all of it.
        days = st.days()
        now = pd.Timestamp.now(tz="UTC")
        newest = pd.Timestamp(days[-1], tz="UTC") + pd.Timedelta(days=1) if days else now
        result.dropped_days = st.apply_retention(keep_days, min(now, newest))
    return result


def _distinct_keys(usage: pd.DataFrame) -> set[tuple[str, ...]]:
    """The containers in a chunk, looked up only where a row's names differ from the row
    before (drop_duplicates over every row was a tenth of a large import)."""
    if usage.empty:
        return set()
    change = np.zeros(len(usage), dtype=bool)
    change[0] = True
    for col in KEY_COLUMNS:
        s = usage[col]
        v = s.cat.codes.to_numpy() if isinstance(s.dtype, pd.CategoricalDtype) else \
            s.to_numpy(dtype=object)
        change[1:] |= v[1:] != v[:-1]
    firsts = usage[KEY_COLUMNS].iloc[np.flatnonzero(change)].astype(str)
    return set(firsts.itertuples(index=False, name=None))
