"""The report's per-container statistics accumulated day by day equal those of the whole
frame: samples, pods, span, sampling step (also across days and pods), completeness, maxima
and the interpolated p95."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.model import validate_usage
from quotatune.pipelines.stored import p95_buckets
from quotatune.render.html.stats import StatsBuilder, container_stats
from quotatune.rollup.sketch import daily_rollup
from tests.support.store_data import troubled_fleet


def by_day(usage: pd.DataFrame) -> list[pd.DataFrame]:
    day = usage["timestamp"].dt.floor("D")
    return [g.reset_index(drop=True) for _, g in usage.groupby(day, sort=True)]


def accumulated(usage: pd.DataFrame) -> pd.DataFrame:
    b = StatsBuilder(p95_buckets(daily_rollup(usage)))
    days = by_day(usage)
    for d in days:
        b.add_first(d)
    for d in days:
        b.add_second(d)
    return b.stats()


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index(), check_exact=True,
                                  check_dtype=False, check_index_type=False)


def test_troubled_fleet_statistics_are_the_same():
    usage, _ = troubled_fleet()
    same(accumulated(usage), container_stats(usage))


def test_irregular_steps_pods_that_come_back_and_ties_at_the_p95():
    rng = np.random.default_rng(3)
    t = pd.Timestamp("2026-11-20T00:00:00Z") + pd.to_timedelta(
        np.cumsum(rng.choice([30, 60, 61, 120], 6000)), unit="s")
    pod = np.where((np.arange(6000) // 1500) % 2 == 0, "web-a", "web-b")  # a, b, a, b
    cpu = np.round(rng.gamma(2.0, 0.1, 6000), 2)  # many equal values
    u = validate_usage(pd.DataFrame({
        "timestamp": t, "namespace": "shop", "workload": "web", "pod": pod, "container": "app",
        "cpu_cores": cpu, "memory_working_set_bytes": rng.normal(3e8, 1e7, 6000)}), "test")
    assert u["timestamp"].dt.floor("D").nunique() >= 3
    same(accumulated(u), container_stats(u))


def test_an_empty_day_adds_nothing():
    usage, _ = troubled_fleet()
    b = StatsBuilder(p95_buckets(daily_rollup(usage)))
    empty = usage.iloc[:0]
    b.add_day(empty)
    for d in by_day(usage):
        b.add_first(d)
    b.add_first(empty)
    for d in by_day(usage):
        b.add_second(d)
    b.add_second(empty)
    same(b.stats(), container_stats(usage))
