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
    [[GIB], [2 * GIB, GIB, GIB, 2 * GIB], [GIB], [GIB]],  # one-sample pods, first and last
])
def test_runs_of_pods_give_the_changes_sorting_gives(limits: list[list[float]]) -> None:
    df = usage(limits)
    runs = check_spans(df, PodSpans())
    assert runs is not None  # one run per pod, in time order: read as they stand
    assert rows(LimitChanges.of(df, runs)) == rows(LimitChanges.of(df))


def test_a_limit_is_kept_where_it_changes_and_where_each_pod_starts_and_ends() -> None:
    df = usage([[GIB, GIB, 2 * GIB, 2 * GIB], [2 * GIB, 2 * GIB, 2 * GIB]])
    got = LimitChanges.of(df, check_spans(df, PodSpans())).rows
    assert got["limit"].tolist() == [GIB, 2 * GIB, 2 * GIB, 2 * GIB, 2 * GIB]
    assert ((got["t"] - T0.value) // 60_000_000_000).tolist() == [0, 2, 3, 0, 2]


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


def pods(spec: list[tuple[str, range, float]]) -> pd.DataFrame:
    """Samples of shop/web/app: each pod's minutes and its limit in MiB."""
    return pd.concat([pd.DataFrame({
        "timestamp": T0 + pd.to_timedelta(list(minutes), unit="min"), "namespace": "shop",
        "workload": "web", "pod": pod, "container": "app",
        "memory_limit_bytes": mib * float(1 << 20)}) for pod, minutes, mib in spec],
        ignore_index=True)


def at_kills(samples: pd.DataFrame, pod: str | None, minutes: list[int]) -> list[float]:
    got = limits_at_ooms(samples, pd.concat([kill("", m) for m in minutes]).assign(pod=pod))
    assert got is not None
    return (got["limit_at_oom"] / float(1 << 20)).tolist()


def test_a_kill_without_its_pod_takes_the_pod_running_then_else_the_last_seen() -> None:
    """A rollout rolled back: web-a (400 MiB) runs minutes 0-100, web-b (600 MiB) 50-60 and
    is deleted.  A kill at 80 naming no pod with samples was web-a's, the one pod running;
    between pods that run one after another, the pod seen last gives the limit."""
    rollback = pods([("web-a", range(0, 101), 400), ("web-b", range(50, 61), 600)])
    for pod in ("", None, "web-gone"):
        assert np.isnan(at_kills(rollback, pod, [-1])).all()  # before any sample
        assert at_kills(rollback, pod, [10, 80, 200]) == [400, 400, 400]
    one_after_another = pods([("web-a", range(0, 11), 400), ("web-b", range(20, 31), 600),
                              ("web-c", range(40, 51), 300)])
    assert at_kills(one_after_another, "", [5, 15, 25, 35, 45, 60]) == \
        [400, 400, 600, 600, 300, 300]


def test_of_pods_running_at_the_kill_the_larger_hash_gives_the_limit() -> None:
    """web-a runs minutes 0-9 and web-b 3-9: at 5 both run, and the rule, not which pod
    started last, picks one."""
    samples = pods([("web-a", range(0, 10), 400), ("web-b", range(3, 10), 600)])
    both = samples.drop_duplicates("pod")
    want = [400.0, 600.0][int(np.argmax(pod_hashes(both)))]
    assert at_kills(samples, "", [5]) == at_kills(samples.iloc[::-1], "", [5]) == [want]


def test_a_duplicated_sample_with_two_limits_gives_one_answer_in_any_order() -> None:
    samples = pods([("web-a", range(0, 10), 400), ("web-a", range(5, 6), 600)])
    assert at_kills(samples, "web-a", [5]) == at_kills(samples.iloc[::-1], "web-a", [5]) \
        == at_kills(samples, "", [5])


def test_a_categorical_pod_column_with_a_missing_pod_is_read_as_no_pod() -> None:
    samples = pods([("web-a", range(0, 10), 400)])
    kills = pd.concat([kill("web-a", 5), kill("web-a", 6)], ignore_index=True)
    kills["pod"] = pd.Categorical(["web-a", None])
    got = limits_at_ooms(samples, kills)
    assert got is not None and (got["limit_at_oom"] / float(1 << 20)).tolist() == [400, 400]


def test_a_named_pod_killed_before_its_first_sample_keeps_its_own_limit() -> None:
    """web-b (600 MiB) is killed a minute before its first scrape, beside web-a (400 MiB):
    a pod's limit is fixed for its life, so it was killed at 600."""
    samples = pods([("web-a", range(0, 101), 400), ("web-b", range(50, 101), 600)])
    assert at_kills(samples, "web-b", [49]) == [600]


def brute_force(samples: pd.DataFrame, pod: str, t: pd.Timestamp) -> float:
    """The rule, sample by sample."""
    s = samples.dropna(subset=["memory_limit_bytes"])
    own = s[s["pod"] == pod]
    if len(own):
        before = own[own["timestamp"] <= t]
        row = before.iloc[-1] if len(before) else own.iloc[0]
        return float(row["memory_limit_bytes"])
    spans = s.groupby("pod")["timestamp"].agg(["min", "max"])
    spans["hash"] = pod_hashes(spans.reset_index().assign(
        namespace="shop", workload="web", container="app"))
    running = spans[(spans["min"] <= t) & (t <= spans["max"])]
    gone = spans[spans["max"] < t]
    if len(running):
        chosen = running["hash"].idxmax()
    elif len(gone):
        chosen = gone[gone["max"] == gone["max"].max()]["hash"].idxmax()
    else:
        return float("nan")
    mine = s[(s["pod"] == chosen) & (s["timestamp"] <= t)]
    return float(mine["memory_limit_bytes"].iloc[-1])


def test_the_limit_at_any_kill_is_the_rules_sample_by_sample() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        spec = []
        for i in range(int(rng.integers(1, 6))):
            start = int(rng.integers(0, 60))
            spec.append((f"web-{i}", range(start, start + int(rng.integers(1, 40))),
                         float(rng.choice([256, 400, 600]))))
        samples = pods(spec)
        samples.loc[rng.random(len(samples)) < 0.1, "memory_limit_bytes"] = np.nan
        minutes = [int(m) for m in rng.integers(-5, 105, 12)]
        names = ["", "web-gone", *(p for p, _, _ in spec)]
        for pod in names:
            got = at_kills(samples, pod, minutes)
            want = [brute_force(samples, pod, T0 + pd.Timedelta(minutes=m)) / float(1 << 20)
                    for m in minutes]
            np.testing.assert_array_equal(got, want, err_msg=f"{pod} {spec}")
