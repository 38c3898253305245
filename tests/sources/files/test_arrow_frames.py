"""Arrow tables become the frame ``to_pandas`` gives, column by column, for the shapes the
readers produce (nulls, zones, units, several chunks) and for the ones they leave to
``to_pandas`` (times past 2262); the validated frames are equal either way, errors
included.  A dictionary that repeats a value, which ``to_pandas`` refuses, is read too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from quotatune.model import validate_usage
from quotatune.model.errors import InputError
from quotatune.sources.files import stream
from quotatune.sources.files.arrow_frames import table_frame

T0 = 1_795_000_000  # seconds: 2026-11-18


def names(values: list[str | None], dictionary: list[str] | None = None) -> pa.Array:
    if dictionary is None:
        return pa.array(values).dictionary_encode()
    index = [None if v is None else dictionary.index(v) for v in values]
    return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), pa.array(dictionary))


def usage_table(n: int = 6, *, unit: str = "us", tz: str | None = "UTC",
                pods: pa.Array | None = None) -> pa.Table:
    scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    return pa.table({
        "timestamp": pa.array([(T0 + 60 * i) * scale for i in range(n)],
                              pa.timestamp(unit, tz=tz)),
        "namespace": names(["shop"] * n),
        "workload": names(["web"] * n),
        "pod": pods if pods is not None else names([f"web-{i % 2}" for i in range(n)]),
        "container": names(["app"] * n),
        "cpu_cores": pa.array([0.25 * i for i in range(n)]),
        "memory_working_set_bytes": pa.array([float(i << 20) for i in range(n)]),
        "memory_limit_bytes": pa.array([None if i % 2 else float(1 << 30) for i in range(n)]),
    })


def assert_same_as_to_pandas(table: pa.Table) -> pd.DataFrame:
    got = validate_usage(table_frame(table, "t.parquet"), "t.parquet")
    want = validate_usage(table.to_pandas(ignore_metadata=True), "t.parquet")
    pd.testing.assert_frame_equal(got, want)
    return got


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", None])
def test_timestamps_of_any_unit_and_zone_are_the_same_instants(unit: str, tz: str | None
                                                                ) -> None:
    got = assert_same_as_to_pandas(usage_table(unit=unit, tz=tz))
    assert got["timestamp"].iloc[0] == pd.Timestamp(T0, unit="s", tz="UTC")


def test_nulls_become_nan_and_empty_pods_while_floats_are_not_copied() -> None:
    table = usage_table(pods=names(["web-0", None, "web-1", None, "web-0", "web-1"]))
    got = assert_same_as_to_pandas(table)
    assert got["memory_limit_bytes"].isna().tolist() == [False, True] * 3
    assert got["pod"].tolist() == ["web-0", "", "web-1", "", "web-0", "web-1"]
    frame = table_frame(table, "t.parquet")
    cpu = table.column("cpu_cores").chunk(0).to_numpy()
    assert np.shares_memory(frame["cpu_cores"].to_numpy(), cpu)


def test_several_chunks_with_one_dictionary_or_with_clashing_ones() -> None:
    one = usage_table(pods=names(["a", "b", "a", "b", "a", "b"], ["a", "b"]))
    other = usage_table(pods=names(["c", "a", "c", "a", "c", "a"], ["c", "a"]))
    clashing = pa.concat_tables([one, other])
    assert_same_as_to_pandas(clashing)
    assert_same_as_to_pandas(clashing.unify_dictionaries())
    assert table_frame(clashing, "t.parquet")["pod"].tolist() == list("ababab" + "cacaca")


def test_a_dictionary_that_repeats_a_value_reads_as_its_plain_values() -> None:
    """``to_pandas`` raises on such a column (a traceback, not a message); it reads as the
    same names written without a dictionary."""
    repeated = usage_table().set_column(3, "pod", pa.DictionaryArray.from_arrays(
        pa.array([0, 2, 1, 0, None, 1], pa.int32()), pa.array(["a", "b", "a"])))
    with pytest.raises(ValueError, match="unique"):
        repeated.to_pandas()
    plain = repeated.set_column(3, "pod", repeated.column("pod").cast(pa.string()))
    got = validate_usage(table_frame(repeated, "t.parquet"), "t.parquet")
    want = validate_usage(table_frame(plain, "t.parquet"), "t.parquet")
    pd.testing.assert_frame_equal(got.astype({"pod": str}), want.astype({"pod": str}))
    assert got["pod"].tolist() == ["a", "a", "b", "a", "", "b"]


def test_bad_rows_are_reported_as_the_generic_path_reports_them() -> None:
    past_2262 = usage_table(unit="s").set_column(
        0, "timestamp", pa.array([T0, T0, 10**10, T0, T0, T0], pa.timestamp("s", tz="UTC")))
    with pytest.raises(InputError, match=r"column 'timestamp', row 4: not an RFC 3339"):
        validate_usage(table_frame(past_2262, "t.parquet"), "t.parquet", row_offset=2)
    negative = usage_table().set_column(5, "cpu_cores", pa.array([0.5, -1.0, 0, 0, 0, 0]))
    with pytest.raises(InputError, match=r"column 'cpu_cores', row 3: negative"):
        validate_usage(table_frame(negative, "t.parquet"), "t.parquet", row_offset=2)
    no_namespace = usage_table().set_column(1, "namespace", names(["shop", None] * 3))
    with pytest.raises(InputError, match=r"column 'namespace', row 3: empty name"):
        validate_usage(table_frame(no_namespace, "t.parquet"), "t.parquet", row_offset=2)


@pytest.mark.parametrize("rows", [slice(None, None, -1), slice(3, None), slice(None, None, 2)],
                         ids=["reversed", "sliced", "every-other"])
def test_a_pandas_written_file_lines_up_by_row_not_by_its_recorded_index(
        tmp_path: Path, rows: slice) -> None:
    """pandas records a reversed or sliced frame's index in the file; rebuilding it for one
    column (an int64 one, which takes the generic path) and not the others would pair each
    time with another row's memory."""
    df = pd.DataFrame({
        "timestamp": pd.date_range("2026-11-18", periods=8, freq="min", tz="UTC"),
        "namespace": "shop", "workload": "web", "pod": "web-0", "container": "app",
        "cpu_cores": 0.25, "memory_working_set_bytes": np.arange(8, dtype="int64") << 20,
    }).iloc[rows]
    path = tmp_path / "u.parquet"
    df.to_parquet(path)
    got = pd.concat([c.usage for c in stream.iter_canonical_parquet(path)])
    minutes = (got["timestamp"] - pd.Timestamp("2026-11-18", tz="UTC")) // pd.Timedelta("1min")
    assert (got["memory_working_set_bytes"] == minutes * (1 << 20)).all()
    assert len(got) == len(df)


def test_unsigned_dictionary_indices_read_as_signed_codes() -> None:
    table = usage_table().set_column(3, "pod", pa.DictionaryArray.from_arrays(
        pa.array([0, 1, None, 1, 0, 1], pa.uint8()), pa.array(["a", "b"])))
    got = assert_same_as_to_pandas(table)
    assert got["pod"].tolist() == ["a", "b", "", "b", "a", "b"]


def test_a_column_named_twice_is_refused_by_name() -> None:
    table = usage_table()
    twice = table.append_column("cpu_cores", pa.array([9.0] * table.num_rows))
    with pytest.raises(InputError, match=r"u.csv: column 'cpu_cores' appears twice"):
        table_frame(twice, "u.csv")


def test_a_row_group_of_a_frames_whole_dictionary_keeps_only_the_names_it_uses() -> None:
    """A categorical written by pandas brings every category into each row group (a month
    of CronJob pods: millions of names for a group's few): the frame's categories are the
    names its rows use, in the dictionary's order, and the values are the same."""
    everything = [f"job-{i:05d}" for i in range(5000)]
    used = ["job-04000", None, "job-00007", "job-04000", "job-00123", "job-00007"]
    table = usage_table(pods=names(used, everything))
    got = validate_usage(table_frame(table, "t.parquet"), "t.parquet")
    want = validate_usage(table.to_pandas(ignore_metadata=True), "t.parquet")
    pd.testing.assert_frame_equal(got.astype({"pod": str}), want.astype({"pod": str}))
    assert list(got["pod"].cat.categories) == ["job-00007", "job-00123", "job-04000", ""]
    assert got["pod"].tolist() == ["job-04000", "", "job-00007", "job-04000", "job-00123",
                                   "job-00007"]


@pytest.mark.parametrize("rows_use_the_repeat", [True, False])
def test_a_large_dictionary_is_checked_for_repeats_among_the_names_its_rows_use(
        rows_use_the_repeat: bool) -> None:
    """Repeats are looked for only among the names a row group's rows use: one the rows
    use reads as its plain values; one no row uses costs nothing and changes nothing."""
    everything = [f"job-{i:05d}" for i in range(5000)] + ["job-00007"]  # 7 and 5000 repeat
    index = [5000 if rows_use_the_repeat else 123, None, 7, 4000, 7, 4000]
    pods = pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), pa.array(everything))
    got = validate_usage(table_frame(usage_table(pods=pods), "t.parquet"), "t.parquet")
    first = "job-00007" if rows_use_the_repeat else "job-00123"
    assert got["pod"].tolist() == [first, "", "job-00007", "job-04000", "job-00007",
                                   "job-04000"]
    assert got["pod"].cat.categories.is_unique


def test_a_dictionary_smaller_than_its_rows_is_still_cut_to_the_names_they_use() -> None:
    """A row group of a million CronJob samples used a fifth of the 1.7 M names its
    dictionary brought: the cut depends on the names used, not on the rows."""
    everything = [f"job-{i:05d}" for i in range(3000)]
    used = [f"job-{(i % 10) * 7:05d}" for i in range(2000)]  # 10 names, 2,000 rows
    got = validate_usage(table_frame(usage_table(2000, pods=names(used, everything)),
                                     "t.parquet"), "t.parquet")
    assert list(got["pod"].cat.categories) == sorted(set(used))
    assert got["pod"].tolist() == used
