"""Day commits when the samples' writer fails or is interrupted: the day is absent, its
directory holds no file its manifest does not name, the day before it is committed, and the
failure reads as one line (a StoreError) where it is the disk's or Arrow's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from quotatune.pipelines.inputs import open_store
from quotatune.store.commits import DayCommits
from quotatune.store.errors import StoreError
from quotatune.store.files import write_usage_table
from quotatune.store.history import AppendReport
from quotatune.store.staging import to_arrow
from tests.store.test_store import usage

DAYS = ["2026-11-20", "2026-11-21"]


def failing_on_the_second_day(exc: BaseException) -> Callable[[pd.DataFrame, Path], None]:
    def write(df: pd.DataFrame, path: Path) -> None:
        if "2026-11-21" in str(path):
            raise exc
        write_usage_table(df, path)
    return write


def commit_two_days(root: Path, write: Callable[[pd.DataFrame, Path], None]) -> AppendReport:
    store = open_store(root)
    report = AppendReport()
    with DayCommits(store, report, len(DAYS), write_samples=write) as commits:
        for day in DAYS:
            commits.commit(day, [to_arrow(usage(2, 60, start=f"{day}T00:00:00Z"))])
    return report


def files_of(root: Path, day: str) -> list[str]:
    d = root / "usage" / f"day={day}"
    return sorted(p.name.split("-")[0] for p in d.iterdir()) if d.exists() else []


@pytest.mark.parametrize(("exc", "raised"), [
    (pa.ArrowInvalid("Could not convert 'x' with type str"), StoreError),
    (OSError(28, "No space left on device"), StoreError),
    (MemoryError(), MemoryError),
    (KeyboardInterrupt(), KeyboardInterrupt),  # Ctrl-C while the day is being written
])
def test_a_failed_or_interrupted_write_leaves_its_day_absent_and_no_file_behind(
        tmp_path: Path, exc: BaseException, raised: type[BaseException]) -> None:
    with pytest.raises(raised) as got:
        commit_two_days(tmp_path, failing_on_the_second_day(exc))
    if raised is StoreError:
        assert "day=2026-11-21: cannot write" in str(got.value)
        assert "\n" not in str(got.value)
    assert files_of(tmp_path, "2026-11-21") == []
    assert files_of(tmp_path, "2026-11-20") == ["data", "manifest.json", "rollup"]
    stored = open_store(tmp_path).read_usage()
    assert stored["timestamp"].dt.strftime("%Y-%m-%d").unique().tolist() == ["2026-11-20"]
    assert len(stored) == 2 * 60


def test_both_days_are_committed_and_counted_when_nothing_fails(tmp_path: Path) -> None:
    report = commit_two_days(tmp_path, write_usage_table)
    assert report.days_written == DAYS and report.samples_added == 2 * 2 * 60
    assert files_of(tmp_path, "2026-11-21") == ["data", "manifest.json", "rollup"]
