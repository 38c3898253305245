"""A day's rollup does not depend on the order its samples arrive in.

An export that lists every series whole and in time order is rolled up as it stands (no
sort); any other order is sorted first.  Both must give the same rows, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quotatune.model import validate_usage
from quotatune.rollup.sketch import (
    CPU_FIRST,
    FINE_RATIO,
    MEM_FIRST,
    NBUCKETS,
    RATIO,
    ROLLUP_COLUMNS,
    bucket_index,
    bucket_start,
    daily_rollup,
)
from quotatune.rollup.spans import PodSpans, check_spans


def usage(*, categorical: bool) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    ts = pd.date_range("2026-11-20T18:00:00Z", periods=2 * 720, freq="1min")
    frames = []
    for i in range(5):
        pod = np.where(ts < ts[600 + 100 * i], f"app{i}-a", f"app{i}-b")  # a rollout
        frames.append(pd.DataFrame({
            "timestamp": ts, "namespace": f"ns{i % 2}", "workload": f"app{i}", "pod": pod,
            "container": "main" if i != 3 else "envoy",
            "cpu_cores": rng.gamma(2.0, 0.1, len(ts)),
            "memory_working_set_bytes": rng.normal(3e8, 1e7, len(ts)).clip(1),
            "memory_limit_bytes": np.where(ts < ts[900], 5e8, np.nan),
        }))
    u = validate_usage(pd.concat(frames, ignore_index=True), "test")
    if categorical:
        for col in ("namespace", "workload", "pod", "container"):
            u[col] = u[col].astype("category")
    return u


def in_key_order(r: pd.DataFrame) -> pd.DataFrame:
    return r.sort_values(["namespace", "workload", "container", "pod", "day"]
                         ).reset_index(drop=True)


def assert_same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) == ROLLUP_COLUMNS
    assert len(a) == len(b)
    for col in ROLLUP_COLUMNS:
        x, y = a[col], b[col]
        if x.dtype == object and len(x) and isinstance(x.iloc[0], np.ndarray):
            for p, q in zip(x, y, strict=True):
                assert p.dtype == q.dtype and np.array_equal(p, q, equal_nan=True), col
        else:
            assert x.equals(y), col


@pytest.mark.parametrize("categorical", [False, True])
def test_series_listed_whole_roll_up_as_the_same_rows_as_shuffled_ones(
        categorical: bool) -> None:
    u = usage(categorical=categorical)
    as_listed = daily_rollup(u)
    shuffled = daily_rollup(u.sample(frac=1.0, random_state=5).reset_index(drop=True))
    assert_same_rows(in_key_order(as_listed), in_key_order(shuffled))
    assert int(as_listed["n"].sum()) == len(u)


@pytest.mark.parametrize("categorical", [False, True])
def test_pod_runs_found_by_the_overlap_check_give_the_rows_looking_for_them_gives(
        categorical: bool) -> None:
    # --from hands the rollup the runs check_spans found (each pod one run in time order,
    # across midnight here); the rows must be those the rollup finds on its own, in order.
    u = usage(categorical=categorical)
    u = u.sort_values(["namespace", "workload", "pod", "timestamp"], kind="stable"
                      ).reset_index(drop=True)
    pod_runs = check_spans(u, PodSpans())
    assert pod_runs is not None and int(pod_runs.sum()) == 10
    given = daily_rollup(u, pod_runs=pod_runs)
    assert_same_rows(given, daily_rollup(u))
    assert given["day"].nunique() == 2 and len(given) > 10


def test_a_day_listed_in_two_separate_runs_is_one_row() -> None:
    u = usage(categorical=False)
    one = u[u["workload"] == "app0"]
    swapped = pd.concat([one.iloc[700:], one.iloc[:700]], ignore_index=True)
    assert_same_rows(in_key_order(daily_rollup(one.reset_index(drop=True))),
                     in_key_order(daily_rollup(swapped)))


def test_last_valid_value_of_each_run_skips_missing_ones() -> None:
    from quotatune.rollup.runs import last_valid_runs

    starts = np.array([0, 3, 5])
    limits_set = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    assert last_valid_runs(limits_set, starts).tolist() == [3.0, 5.0, 7.0]
    never_set = np.array([1.0, 2.0, 3.0, np.nan, np.nan, 6.0, 7.0])
    assert np.array_equal(last_valid_runs(never_set, starts), [3.0, np.nan, 7.0],
                          equal_nan=True)
    unset_later = np.array([1.0, 2.0, np.nan, np.nan, np.nan, 6.0, np.nan])
    assert np.array_equal(last_valid_runs(unset_later, starts), [2.0, np.nan, 6.0],
                          equal_nan=True)


def test_hourly_peaks_and_days_before_1970_fall_where_the_clock_says() -> None:
    """Times before 1970 are negative: days and hours still start at midnight and on the
    hour, not at the nearest one towards zero."""
    ts = pd.date_range("1969-12-31T22:30:00Z", periods=4, freq="1h")  # 22:30 .. 01:30
    u = validate_usage(pd.DataFrame({
        "timestamp": ts, "namespace": "ns", "workload": "app", "pod": "app-1",
        "container": "main", "cpu_cores": 0.1,
        "memory_working_set_bytes": [1e8, 2e8, 3e8, 4e8],
    }), "test")
    r = daily_rollup(u)
    assert r["day"].dt.strftime("%Y-%m-%d").tolist() == ["1969-12-31", "1970-01-01"]
    assert r["n"].tolist() == [2, 2]
    hours = [np.flatnonzero(~np.isnan(h)).tolist() for h in r["mem_hour_max"]]
    assert hours == [[22, 23], [0, 1]]
    assert r["mem_hour_max"][0][23] == 2e8 and r["mem_hour_max"][1][1] == 4e8


def test_group_names_of_categorical_columns_with_missing_pods_read_as_empty() -> None:
    u = usage(categorical=True)
    u["pod"] = u["pod"].cat.add_categories(["unused"])
    u.loc[u["workload"] == "app2", "pod"] = np.nan
    r = daily_rollup(u)
    assert set(r.loc[r["workload"] == "app2", "pod"]) == {""}
    assert "unused" not in set(r["pod"])
    assert all(isinstance(v, str) for v in r["namespace"])


def test_pods_of_a_few_samples_spread_over_many_buckets_count_each_sample_once() -> None:
    """A CronJob's pods: three samples each, anywhere from 1 MiB to 10 GiB.  Each pod's
    buckets and counts are those of its own samples (the spread makes the rollup sort the
    samples instead of counting into a slice per pod)."""
    rng = np.random.default_rng(5)
    n_pods = 400
    t = pd.Timestamp("2026-11-20T00:00:00Z") + pd.to_timedelta(
        np.repeat(np.arange(n_pods) * 3, 3) + np.tile(np.arange(3), n_pods), unit="min")
    u = validate_usage(pd.DataFrame({
        "timestamp": t, "namespace": "batch", "workload": "job", "container": "job",
        "pod": np.repeat([f"job-{i:04d}" for i in range(n_pods)], 3),
        "cpu_cores": 10 ** rng.uniform(-3, 2, 3 * n_pods),
        "memory_working_set_bytes": 2 ** rng.uniform(20, 33, 3 * n_pods),
    }), "test")
    r = daily_rollup(u)
    assert len(r) == n_pods
    for (_, g), row in zip(u.groupby("pod"), r.itertuples(), strict=True):
        for col, first, prefix in (("cpu_cores", CPU_FIRST, "cpu"),
                                   ("memory_working_set_bytes", MEM_FIRST, "mem")):
            b, c = np.unique(bucket_index(g[col].to_numpy(), first), return_counts=True)
            assert getattr(row, f"{prefix}_b").tolist() == b.tolist()
            assert getattr(row, f"{prefix}_c").tolist() == c.tolist()


@pytest.mark.parametrize("first", [CPU_FIRST, MEM_FIRST])
def test_bucket_index_is_the_floor_of_the_log_formula_at_and_beside_every_boundary(
        first: float) -> None:
    starts = bucket_start(np.arange(NBUCKETS), first)
    values = np.concatenate([starts, np.nextafter(starts, 0), np.nextafter(starts, np.inf),
                             [-1e9, -0.5, -0.0, 5e-324, 2.0**53, np.inf]])
    # The formula as the module note states it, step by step on clipped values.
    plain = np.floor(np.log(np.maximum(values, 0) * (RATIO - 1) / first + 1)
                     / math.log(FINE_RATIO))
    expected = np.clip(plain, 0, NBUCKETS - 1).astype("int64")
    assert bucket_index(values, first).tolist() == expected.tolist()
    assert bucket_index(np.array([-3, 0, 7]), first).tolist() == \
        bucket_index(np.array([-3.0, 0.0, 7.0]), first).tolist()
