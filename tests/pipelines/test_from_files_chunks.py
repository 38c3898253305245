"""``--from`` filters each chunk by target and by time before the checks and rollups: a chunk
with none of the target's rows, or only samples stamped in the future, is passed over, and a
chunk partly in the future keeps the rest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quotatune.model import InputError, Target
from quotatune.pipelines.streaming import rollups_from_files

HEADER = "timestamp,namespace,workload,pod,container,cpu_cores,memory_working_set_bytes\n"
NOW = pd.Timestamp("2026-11-20T12:00:00Z")


def export(path: Path, namespace: str, times: list[str]) -> Path:
    path.write_text(HEADER + "".join(f"{t},{namespace},web,web-1,app,0.25,{2**27}\n"
                                     for t in times))
    return path


def test_a_file_without_the_targets_rows_is_passed_over(tmp_path: Path) -> None:
    times = ["2026-11-20T10:00:00Z", "2026-11-20T10:01:00Z"]
    a = export(tmp_path / "a.csv", "a", times)
    b = export(tmp_path / "b.csv", "b", times)
    for first, second in ((a, b), (b, a)):
        got = rollups_from_files([first, second], None, Target.parse("a/"), now=NOW)
        assert got.rollups["namespace"].tolist() == ["a"]
        assert got.samples == 2


def test_only_the_samples_stamped_in_the_future_are_left_out(tmp_path: Path) -> None:
    now = export(tmp_path / "now.csv", "a", ["2026-11-20T10:00:00Z", "2026-11-20T10:01:00Z"])
    later = export(tmp_path / "later.csv", "a", ["2026-11-22T10:00:00Z"])
    mixed = export(tmp_path / "mixed.csv", "b",
                   ["2026-11-20T11:00:00Z", "2026-11-20T12:30:00Z", "2026-11-23T00:00:00Z"])
    got = rollups_from_files([now, later, mixed], None, Target(), now=NOW)
    assert got.samples == 3
    assert sorted(got.rollups["namespace"]) == ["a", "b"]
    assert any(n.startswith("ignored 3 sample(s) stamped in the future") for n in got.notes)


def test_files_of_only_future_samples_say_so_in_their_error(tmp_path: Path) -> None:
    later = export(tmp_path / "later.csv", "a", ["2026-11-22T10:00:00Z", "2026-11-23T10:00:00Z"])
    with pytest.raises(InputError, match=r"no data in the given files; ignored 2 sample\(s\) "
                                         r"stamped in the future \(after 2026-11-20T12:10Z\)"):
        rollups_from_files([later], None, Target(), now=NOW)


def test_a_parquet_chunk_partly_in_the_future_goes_back_to_the_numpy_path(tmp_path: Path
                                                                          ) -> None:
    """The compiled pass takes no chunk with a sample from the future; the rest of that
    chunk is still rolled up, as for CSV."""
    path = tmp_path / "mixed.parquet"
    times = ["2026-11-20T11:00:00Z", "2026-11-20T11:01:00Z", "2026-11-23T00:00:00Z"]
    pd.DataFrame({"timestamp": pd.to_datetime(times), "namespace": "a", "workload": "web",
                  "pod": "web-1", "container": "app", "cpu_cores": 0.25,
                  "memory_working_set_bytes": float(2**27)}).to_parquet(path)
    for compiled in (True, False):
        got = rollups_from_files([path], None, Target(), now=NOW, compiled=compiled)
        assert got.samples == 2 and got.future == 1
