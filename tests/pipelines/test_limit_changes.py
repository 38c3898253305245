"""The limit an OOM kill happened at comes from the samples where each pod's memory limit
changes (``--from`` keeps only those, chunk by chunk).  A pod's limit is its own: a kill
that names a pod takes that pod's last limit at or before it, not another pod's that
sampled later; whole frames and streams, in any order and cut anywhere, give one answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quotatune.analysis.oom import limits_at_ooms
from quotatune.model import KEY_COLUMNS
from quotatune.rollup.limits import LimitChanges
from quotatune.rollup.namehash import pod_hashes
from quotatune.rollup.spans import PodSpans, check_spans

GIB = float(1 << 30)
T0 = pd.Timestamp("2026-11-02", tz="UTC")


def usage(limits: list[list[float]]) -> pd.DataFrame:
    """One pod per list (each its own workload's), samples a minute apart, pod after pod."""
    rows = []
    for i, pod_limits in enumerate(limits):
        for k, limit in enumerate(pod_limits):
            rows.append({"timestamp": T0 + pd.Timedelta(minutes=k),
                         "namespace": "shop", "workload": f"w{i}", "pod": f"w{i}-0",
                         "container": "app", "memory_limit_bytes": limit})
    df = pd.DataFrame(rows)
    return df.astype({c: "category" for c in [*KEY_COLUMNS, "pod"]})


def rows(changes: LimitChanges) -> list[tuple[int, int, float]]:
    r = LimitChanges.joined([changes]).rows
    return sorted(zip(r["pod"].tolist(), r["t"].tolist(), r["limit"].tolist(), strict=True))


@pytest.mark.parametrize("limits", [
    [[GIB, GIB, 2 * GIB, 2 * GIB], [GIB, GIB], [2 * GIB, GIB, GIB]],
    [[GIB, np.nan, GIB, 2 * GIB], [np.nan, np.nan], [np.nan, GIB, np.nan, 2 * GIB]],
])
def test_runs_of_pods_give_the_changes_sorting_gives(limits: list[list[float]]) -> None:
    df = usage(limits)
    runs = check_spans(df, PodSpans())
    assert runs is not None  # one run per pod, in time order: read as they stand
    assert rows(LimitChanges.of(df, runs)) == rows(LimitChanges.of(df))


def test_a_limit_is_kept_where_it_changes_and_where_each_pod_starts() -> None:
    df = usage([[GIB, GIB, 2 * GIB], [2 * GIB, 2 * GIB]])
    got = LimitChanges.of(df, check_spans(df, PodSpans())).rows
    assert got["limit"].tolist() == [GIB, 2 * GIB, 2 * GIB]
    assert ((got["t"] - T0.value) // 60_000_000_000).tolist() == [0, 2, 0]


def kill(pod: str, minute: int) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": [T0 + pd.Timedelta(minutes=minute)],
                         "namespace": "shop", "workload": "web", "pod": pod,
                         "container": "app", "reason": "OOMKilled"})


def rollout() -> list[pd.DataFrame]:
    """A rollout: web-old at 400 MiB and web-new at 600 MiB run side by side, sampled at
    the same instants, minutes 0 to 9."""
    return [pd.DataFrame({
        "timestamp": T0 + pd.to_timedelta(np.arange(10), unit="min"), "namespace": "shop",
        "workload": "web", "pod": pod, "container": "app",
        "memory_limit_bytes": mib * float(1 << 20)}) for pod, mib in (("web-old", 400),
                                                                     ("web-new", 600))]


def test_a_killed_pod_was_killed_at_its_own_limit_not_a_pod_sampled_beside_it() -> None:
    old, new = rollout()
    for listed in ([old, new], [new, old]):
        samples = pd.concat(listed, ignore_index=True)
        for pod, mib in (("web-old", 400), ("web-new", 600)):
            got = limits_at_ooms(samples, kill(pod, 5))
            assert got is not None and got["limit_at_oom"].tolist() == [mib * float(1 << 20)]


def test_a_kill_without_a_pod_of_its_own_takes_the_tie_rules_pod_in_any_order() -> None:
    """The kill names no pod with samples: of the pods sampled last at the same instant,
    the one whose names hash larger gives the container's limit."""
    old, new = rollout()
    both = pd.concat([old.iloc[:1], new.iloc[:1]])
    want = [400.0, 600.0][int(np.argmax(pod_hashes(both)))] * float(1 << 20)
    for listed in ([old, new], [new, old]):
        samples = pd.concat(listed, ignore_index=True)
        for pod in ("", "web-gone"):
            got = limits_at_ooms(samples, kill(pod, 5))
            assert got is not None and got["limit_at_oom"].tolist() == [want]


def test_a_stream_of_chunks_gives_the_whole_frames_limits() -> None:
    """A CronJob's chunks hold a limit row or two per pod; joined as they come, cut anywhere,
    the limit at each kill is the one the whole frame gives."""
    rng = np.random.default_rng(5)
    n = 40_000  # pods of 2 samples, each a CronJob run of one of two containers
    minute = np.arange(n)
    df = pd.DataFrame({
        "timestamp": np.repeat(T0 + pd.to_timedelta(minute, unit="min"), 2)
        + np.tile(pd.to_timedelta([0, 30], unit="s"), n),
        "namespace": "batch", "workload": np.repeat(np.where(minute % 2, "a", "b"), 2),
        "pod": np.repeat([f"p{m}" for m in minute], 2), "container": "main",
        "memory_limit_bytes": np.repeat(rng.choice([GIB, 2 * GIB, np.nan], n), 2),
    }).astype({c: "category" for c in [*KEY_COLUMNS, "pod"]})
    at = rng.integers(0, n, 500)
    kills = pd.DataFrame({
        "timestamp": T0 + pd.to_timedelta(at, unit="min") + pd.Timedelta(seconds=45),
        "namespace": "batch", "workload": np.where(at % 2, "a", "b"), "container": "main",
        "pod": np.where(rng.random(500) < 0.5, [f"p{m}" for m in at], ""),
        "reason": "OOMKilled"})
    whole = limits_at_ooms(df, kills)
    spans, parts = PodSpans(), []
    for lo, hi in ((0, 30_001), (30_001, 50_000), (50_000, 2 * n)):
        chunk = df.iloc[lo:hi]
        parts.append(LimitChanges.of(chunk, check_spans(chunk, spans)))
    streamed = limits_at_ooms(LimitChanges.joined(parts), kills)
    assert whole is not None and streamed is not None
    assert set(whole["limit_at_oom"].dropna()) == {GIB, 2 * GIB}
    pd.testing.assert_frame_equal(whole, streamed)
