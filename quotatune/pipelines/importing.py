"""The import flow: files into the history store, then retention."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from quotatune.model.collected import Collected
from quotatune.pipelines.inputs import open_store
from quotatune.sources.registry import import_files
from quotatune.store import AppendReport


def import_into_store(files: list[Path], fmt: str | None, root: Path, keep_days: int | None
                      ) -> tuple[Collected, AppendReport, int]:
    """What was read, what the store added, and how many days retention dropped."""
    data = import_files(files, fmt)
    st = open_store(root)
    rep = st.append(data)
    dropped = 0
    if keep_days is not None:
        # Counted back from the newest stored day (never from the future): importing last
        # year's trace with --keep-days 7 keeps its last week instead of deleting all of it.
        days = st.days()
        now = pd.Timestamp.now(tz="UTC")
        newest = pd.Timestamp(days[-1], tz="UTC") + pd.Timedelta(days=1) if days else now
        dropped = st.apply_retention(keep_days, min(now, newest))
    return data, rep, dropped
