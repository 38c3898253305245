"""``--from`` keeps, per chunk, only the samples where a container's memory limit changes (the
OOM kills' "limit in force" comes from them).  Rows that arrive as one run per pod are read
as they stand; the answer must be the one sorting gives, with and without missing limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quotatune.model import KEY_COLUMNS
from quotatune.rollup.spans import PodSpans, check_spans, limit_changes

GIB = float(1 << 30)


def usage(limits: list[list[float]]) -> pd.DataFrame:
    """One pod per list (each its own workload's), samples a minute apart, pod after pod."""
    rows = []
    for i, pod_limits in enumerate(limits):
        for k, limit in enumerate(pod_limits):
            rows.append({"timestamp": pd.Timestamp("2026-11-02", tz="UTC")
                         + pd.Timedelta(minutes=k),
                         "namespace": "shop", "workload": f"w{i}", "pod": f"w{i}-0",
                         "container": "app", "memory_limit_bytes": limit})
    df = pd.DataFrame(rows)
    return df.astype({c: "category" for c in [*KEY_COLUMNS, "pod"]})


def changes(df: pd.DataFrame) -> list[tuple[str, str, float]]:
    return sorted((str(r.workload), str(r.timestamp), float(r.memory_limit_bytes))
                  for r in df.itertuples(index=False))


@pytest.mark.parametrize("limits", [
    [[GIB, GIB, 2 * GIB, 2 * GIB], [GIB, GIB], [2 * GIB, GIB, GIB]],
    [[GIB, np.nan, GIB, 2 * GIB], [np.nan, np.nan], [np.nan, GIB, np.nan, 2 * GIB]],
])
def test_runs_of_pods_give_the_changes_sorting_gives(limits: list[list[float]]) -> None:
    df = usage(limits)
    runs = check_spans(df, PodSpans())
    assert runs is not None  # one run per pod, in time order: read as they stand
    assert changes(limit_changes(df, runs)) == changes(limit_changes(df))


def test_a_limit_is_kept_where_it_changes_and_where_each_pod_starts() -> None:
    df = usage([[GIB, GIB, 2 * GIB], [2 * GIB, 2 * GIB]])
    got = limit_changes(df, check_spans(df, PodSpans()))
    assert got["memory_limit_bytes"].tolist() == [GIB, 2 * GIB, 2 * GIB]
    assert got["timestamp"].dt.minute.tolist() == [0, 2, 0]


def test_many_pods_limits_are_compacted_per_container_with_the_same_limit_at_any_time(
) -> None:
    """A CronJob's chunks hold a limit row per pod; past 100,000 rows they are found again
    per container: the limit in force at any time stays what every row gives."""
    from quotatune.analysis.oom import limits_at_ooms
    from quotatune.pipelines.streaming import _Scan

    rng = np.random.default_rng(5)
    start = pd.Timestamp("2026-11-02", tz="UTC")
    scan, whole = _Scan(), []
    for chunk in range(3):
        n = 60_000  # pods of 2 samples, each a CronJob run of one of two containers
        minute = np.arange(n) + chunk * n
        df = pd.DataFrame({
            "timestamp": np.repeat(start + pd.to_timedelta(minute, unit="min"), 2)
            + np.tile(pd.to_timedelta([0, 30], unit="s"), n),
            "namespace": "batch", "workload": np.repeat(np.where(minute % 2, "a", "b"), 2),
            "pod": np.repeat([f"p{m}" for m in minute], 2), "container": "main",
            "memory_limit_bytes": np.repeat(rng.choice([GIB, 2 * GIB, np.nan], n), 2),
        }).astype({c: "category" for c in [*KEY_COLUMNS, "pod"]})
        whole.append(limit_changes(df, check_spans(df, scan.spans)))
        scan.limits.append(whole[-1])
        scan.compact_limits()
    assert sum(map(len, scan.limits)) < sum(map(len, whole)) // 2  # compacted
    kills = pd.DataFrame({
        "timestamp": start + pd.to_timedelta(rng.integers(0, 3 * 60_000, 500), unit="min"),
        "namespace": "batch", "workload": rng.choice(["a", "b"], 500), "container": "main",
        "pod": "", "reason": "OOMKilled"})
    every, compacted = (limits_at_ooms(pd.concat(frames, ignore_index=True), kills)
                        for frames in (whole, scan.limits))
    assert every is not None and compacted is not None
    assert set(every["limit_at_oom"].dropna()) == {GIB, 2 * GIB}
    pd.testing.assert_frame_equal(every, compacted)
