"""Rollup rows held flat (list columns as values end to end and offsets) give the rows the
frame of one array per row gives: taken, joined, folded and framed back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quotatune.model import validate_usage
from quotatune.rollup.flat import Flat, FlatRows
from quotatune.rollup.merge import fold_pods, fold_rows
from quotatune.rollup.sketch import daily_rollup, rollup_rows


def test_a_flat_column_takes_and_joins_rows_as_their_arrays_would() -> None:
    arrays = [np.array([1, 2], "int16"), np.array([], "int16"), np.array([7], "int16")]
    flat = Flat.of(arrays, "int16")
    assert flat[0].dtype == np.int16 and flat[1].tolist() == [0, 2, 2, 3]
    picked = flat.take(np.array([2, 0, 0, 1]))
    assert [a.tolist() for a in picked.lists()] == [[7], [1, 2], [1, 2], []]
    both = Flat.joined([flat, picked])
    assert [a.tolist() for a in both.lists()] == [[1, 2], [], [7], [7], [1, 2], [1, 2], []]
    empty = Flat.of([], "float64")
    assert empty[1].tolist() == [0] and Flat.joined([empty, flat])[1].tolist() == [0, 2, 2, 3]


def pods_usage() -> pd.DataFrame:
    """Short-lived pods of two containers across midnight, several a container's hour,
    one container's pods without a memory limit."""
    rng = np.random.default_rng(5)
    frames = []
    for c, limit in (("main", 5e8), ("side", np.nan)):
        for p in range(40):
            t = pd.Timestamp("2026-11-20T22:00:00Z") + pd.Timedelta(minutes=5 * p)
            frames.append(pd.DataFrame({
                "timestamp": pd.date_range(t, periods=4, freq="30s"),
                "namespace": "batch", "workload": "job", "container": c,
                "pod": f"job-{p:03d}", "cpu_cores": rng.gamma(2.0, 0.1, 4),
                "memory_working_set_bytes": rng.normal(3e8, 1e7, 4), "memory_limit_bytes": limit,
            }))
    return validate_usage(pd.concat(frames, ignore_index=True), "test")


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for col in want.columns:
        a, b = got[col], want[col]
        if b.dtype == object and len(b) and isinstance(b.iloc[0], np.ndarray):
            for x, y in zip(a, b, strict=True):
                assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), col
        else:
            pd.testing.assert_series_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                           check_exact=True, obj=col)


@pytest.mark.parametrize("columns", [None, ["n", "cpu_max", "mem_max", "mem_hour_max",
                                            "cpu_b", "cpu_c"]])
def test_rows_rolled_up_flat_frame_as_the_daily_rollup(columns: list[str] | None) -> None:
    usage = pods_usage()
    assert_same(rollup_rows(usage, columns).framed(), daily_rollup(usage, columns))


@pytest.mark.parametrize("columns", [None, ["n", "cpu_max", "mem_max", "mem_hour_max",
                                            "cpu_b", "cpu_c"]])
def test_pods_folded_flat_are_the_pods_folded_as_a_frame(columns: list[str] | None) -> None:
    usage = pods_usage()
    halves = [rollup_rows(usage.iloc[:160], columns), rollup_rows(usage.iloc[160:], columns)]
    folded = fold_rows(FlatRows.joined(halves))
    want = fold_pods(pd.concat([h.framed() for h in halves], ignore_index=True))
    assert len(want) == 4  # two containers, two days
    assert_same(folded.framed(), want)
    # The frame's own fold goes flat for its several-pod groups: the same again.
    assert_same(fold_rows(FlatRows.of(want)).framed(), fold_pods(want))


def test_counts_without_their_buckets_fold_flat_as_the_frame_folds_them() -> None:
    # A projection holding cpu_c but not cpu_b: neither fold can merge the counts, so both
    # keep the newest pod's, and the flat fold does not fail on them.
    want = daily_rollup(pods_usage())[["namespace", "workload", "container", "pod", "day",
                                       "n", "t_first", "t_last", "cpu_c"]]
    assert_same(fold_rows(FlatRows.of(want)).framed(), fold_pods(want))
