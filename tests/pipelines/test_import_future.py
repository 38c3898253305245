"""``import`` leaves out samples stamped more than 10 minutes after the clock, as ``--from``
does, in the same words: the store then answers as the files do."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from quotatune.model import Target
from quotatune.pipelines.importing import import_into_store
from quotatune.pipelines.streaming import rollups_from_files
from quotatune.store.history import Store

NOW = pd.Timestamp("2026-03-01T12:00:00Z")


def usage_around_now(path: Path) -> Path:
    """shop/web sampled an hour ago, 9 and 11 minutes ahead, and in 2200; shop/batch only
    in 2200."""
    rows = [(NOW - pd.Timedelta(hours=1), "web"), (NOW + pd.Timedelta(minutes=9), "web"),
            (NOW + pd.Timedelta(minutes=11), "web"),
            (pd.Timestamp("2200-01-01T00:00:00Z"), "web"),
            (pd.Timestamp("2200-01-01T00:00:00Z"), "batch")]
    pd.DataFrame({
        "timestamp": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t, _ in rows],
        "namespace": "shop", "workload": [w for _, w in rows],
        "pod": [f"{w}-0" for _, w in rows], "container": "app",
        "cpu_cores": 0.25, "memory_working_set_bytes": 2**28,
    }).to_csv(path, index=False)
    return path


def test_samples_more_than_ten_minutes_ahead_are_not_stored(tmp_path: Path) -> None:
    csv = usage_around_now(tmp_path / "usage.csv")
    res = import_into_store([csv], None, tmp_path / "store", None, now=NOW)

    assert res.report.samples_added == 2
    assert res.samples_read == 5 and res.samples_future == 3
    assert res.containers == 1  # batch was only ever seen in the future
    stored = Store(tmp_path / "store").read_usage()
    assert sorted(stored["timestamp"]) == [NOW - pd.Timedelta(hours=1),
                                           NOW + pd.Timedelta(minutes=9)]
    assert res.notes == ["ignored 3 sample(s) stamped in the future (after 2026-03-01T12:10Z): "
                         "check the source's clock"]


def test_the_note_reads_as_the_one_of_from(tmp_path: Path) -> None:
    csv = usage_around_now(tmp_path / "usage.csv")
    imported = import_into_store([csv], None, tmp_path / "store", None, now=NOW)
    read = rollups_from_files([csv], None, Target.parse(None), now=NOW)
    assert imported.notes == read.notes
    assert imported.report.samples_added == read.samples
