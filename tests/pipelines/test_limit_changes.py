"""``--from`` keeps, per chunk, only the samples where a container's memory limit changes (the
OOM kills' "limit in force" comes from them).  Rows that arrive as one run per pod are read
as they stand; the answer must be the one sorting gives, with and without missing limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quotatune.model import KEY_COLUMNS
from quotatune.pipelines.streaming import _check_spans, _limit_changes

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
    runs = _check_spans(df, {})
    assert runs is not None  # one run per pod, in time order: read as they stand
    assert changes(_limit_changes(df, runs)) == changes(_limit_changes(df))


def test_a_limit_is_kept_where_it_changes_and_where_each_pod_starts() -> None:
    df = usage([[GIB, GIB, 2 * GIB], [2 * GIB, 2 * GIB]])
    got = _limit_changes(df, _check_spans(df, {}))
    assert got["memory_limit_bytes"].tolist() == [GIB, 2 * GIB, 2 * GIB]
    assert got["timestamp"].dt.minute.tolist() == [0, 2, 0]
