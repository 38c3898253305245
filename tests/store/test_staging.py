"""Per-day staging: chunks past the memory budget are spilled and come back whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from quotatune.model import validate_usage
from quotatune.store.staging import (
    BUDGET_BYTES,
    DayStaging,
    from_arrow,
    merge_day,
    merge_tables,
    normalise,
    remove_stale,
    to_arrow,
)


def chunk(workloads: range, start: str, minutes: int) -> pd.DataFrame:
    ts = pd.date_range(start, periods=minutes, freq="1min", tz="UTC")
    df = pd.concat([pd.DataFrame({
        "timestamp": ts, "namespace": "shop", "workload": f"app{i}", "pod": f"app{i}-0",
        "container": "main", "cpu_cores": 0.1 * i, "memory_working_set_bytes": 1e8 + i,
    }) for i in workloads], ignore_index=True)
    for c in ("namespace", "workload", "pod", "container"):
        df[c] = df[c].astype("category")
    return validate_usage(df, "test", row_offset=0)


def test_spilled_days_come_back_whole_and_the_spill_is_removed(tmp_path: Path) -> None:
    staging = DayStaging(tmp_path / "spill", budget=1)  # spill after every chunk
    staging.add(chunk(range(0, 3), "2026-11-20T20:00:00", 600))  # two days
    staging.add(chunk(range(3, 5), "2026-11-21T00:00:00", 60))
    assert list((tmp_path / "spill").iterdir())
    assert staging.days() == ["2026-11-20", "2026-11-21"]
    first = from_arrow(staging.take("2026-11-20"))
    second = from_arrow(staging.take("2026-11-21"))
    assert len(first) == 3 * 240 and len(second) == 3 * 360 + 2 * 60
    assert isinstance(second["workload"].dtype, pd.CategoricalDtype)
    assert sorted(second["workload"].unique()) == [f"app{i}" for i in range(5)]
    staging.close()
    assert not (tmp_path / "spill").exists()


def test_merge_day_keeps_the_first_of_equal_keys_and_sorts_by_name_then_time() -> None:
    old = chunk(range(10, 12), "2026-11-20T00:00:00", 5)
    new = chunk(range(9, 12), "2026-11-20T00:03:00", 5).assign(cpu_cores=9.0)
    both = pd.concat([old.astype({c: str for c in ("namespace", "workload", "pod",
                                                  "container")}), new], ignore_index=True)
    merged, dup = merge_day(both)
    assert dup == 2 * 2  # minutes 3 and 4 of app10 and app11 were stored already
    assert list(merged["workload"].drop_duplicates()) == ["app10", "app11", "app9"]
    app10 = merged[merged["workload"] == "app10"]
    assert app10["timestamp"].is_monotonic_increasing and len(app10) == 8
    np.testing.assert_array_equal(app10["cpu_cores"].iloc[:5], 1.0)  # the stored rows won


def test_spill_directories_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / "999999999-abcd"
    dead.mkdir()
    alive = tmp_path / f"{__import__('os').getpid()}-abcd"
    alive.mkdir()
    remove_stale(tmp_path)
    assert not dead.exists() and alive.exists()


def test_a_day_listed_series_by_series_sorts_like_any_other_order() -> None:
    # Series listed whole (the fast path sorts runs) and the same rows shuffled (full sort).
    listed = chunk(range(12, 7, -1), "2026-11-20T00:00:00", 30)
    shuffled = listed.sample(frac=1.0, random_state=2).reset_index(drop=True)
    a, dup_a = merge_day(listed)
    b, dup_b = merge_day(shuffled)
    assert dup_a == dup_b == 0
    assert list(a["workload"].drop_duplicates()) == ["app10", "app11", "app12", "app8", "app9"]
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("shuffled", [False, True])
def test_a_day_merged_in_arrow_is_the_frame_merging_the_converted_pieces_gives(
        shuffled: bool) -> None:
    """Pieces of two chunks with their own dictionaries, a stored day with missing values
    (nulls in Parquet), a staged one (NaN) and a missing name, duplicates among them: the
    same rows, values, order, types and count of duplicates either way, listed series by
    series or not."""
    stored = chunk(range(10, 12), "2026-11-20T00:00:00", 5)
    stored.loc[1, "cpu_cores"] = np.nan
    stored["container"] = stored["container"].cat.add_categories(["sidecar"])
    stored.loc[2, "container"] = None
    old = normalise(pa.Table.from_pandas(stored, preserve_index=False))  # as read back
    first = chunk(range(9, 12), "2026-11-20T00:03:00", 5).assign(cpu_cores=9.0)
    first.loc[0, "cpu_cores"] = np.nan  # staged as NaN, not null: the same frame comes out
    second = chunk(range(7, 10), "2026-11-20T00:06:00", 5)
    if shuffled:
        second = second.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pieces = [old, to_arrow(first), to_arrow(second).slice(2)]
    expected, dup = merge_day(from_arrow(pieces))
    got, got_dup = merge_tables(pieces)
    assert got_dup == dup == 2 * 2 + 2  # minutes 3, 4 of app10 and app11; 6, 7 of app9
    pd.testing.assert_frame_equal(got, expected)
    assert got["cpu_cores"].isna().sum() == 2 and got["container"].isna().sum() == 1


def short_lived_pods_over_three_days() -> pd.DataFrame:
    """A chunk of short-lived pods spanning three days: its dictionary names every day's."""
    ts = pd.date_range("2026-11-20T00:00:00", periods=3 * 1440, freq="1min", tz="UTC")
    df = pd.DataFrame({"timestamp": ts, "namespace": "batch", "workload": "job",
                       "pod": [f"job-{i // 3}" for i in range(len(ts))], "container": "job",
                       "cpu_cores": np.arange(len(ts)) / 1000.0,
                       "memory_working_set_bytes": 1e8})
    df["pod"] = df["pod"].astype("category")
    return validate_usage(df, "test", row_offset=0)


@pytest.mark.parametrize("spilled", [False, True])
def test_a_day_of_a_chunk_holding_many_days_brings_only_its_own_names(
        tmp_path: Path, spilled: bool) -> None:
    """Each day's frame names its own pods only, with the same rows as before; a spilled
    day's file, too, holds only its own names (not the 1,440 of the whole chunk)."""
    staging = DayStaging(tmp_path / "spill", budget=1 if spilled else BUDGET_BYTES)
    staging.add(short_lived_pods_over_three_days())
    if spilled:
        files = sorted((tmp_path / "spill").iterdir())
        assert len(files) == 3
        with pa.memory_map(str(files[1])) as src:
            pods = pa.ipc.open_file(src).read_all().column("pod").chunk(0)
        assert len(pods.dictionary) == 480
    day = from_arrow(staging.take("2026-11-21"))
    assert len(day) == 1440
    assert len(day["pod"].cat.categories) == 480
    assert set(day["pod"].astype(str)) == {f"job-{i}" for i in range(480, 960)}
    np.testing.assert_array_equal(day["cpu_cores"], np.arange(1440, 2880) / 1000.0)
