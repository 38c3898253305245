"""Containers whose pods come and go: a CronJob starts a pod every few minutes, a Deployment
rolls out to new pods.  Strategies that size a container from its whole history read its
pods' rollups folded into one row per container and day; those that size from per-pod facts
(KRR's highest pod p95, VPA's one peak per pod and day) keep a row per pod.  Either way the
answers are those of the raw samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quotatune.analysis.policy import DEFAULT_POLICY
from quotatune.analysis.recommend import (
    STRATEGIES,
    evidence,
    folds_pods,
    get_strategy,
    recommend,
    recommend_from_rollups,
    rollup_columns,
)
from quotatune.analysis.summary import BLOCK_CELLS, History, percentile_values
from quotatune.model import validate_usage
from quotatune.rollup import sketch
from quotatune.rollup.currents import PodCurrents
from quotatune.rollup.merge import fold_pods
from quotatune.rollup.namehash import pod_hashes
from quotatune.rollup.sketch import daily_rollup

MIB = 1 << 20
DAY = pd.Timedelta(days=1)


def usage(days: int = 3, seed: int = 4) -> pd.DataFrame:
    """A CronJob (a pod of three 1-minute samples every 10 minutes), a Deployment that
    rolls out to a new pod every 9 hours with a higher memory limit each time, and a
    long-lived pod."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-11-20T00:00:00Z")
    runs = days * 144
    cron_t = start + pd.to_timedelta(np.repeat(np.arange(runs) * 10, 3)
                                     + np.tile(np.arange(3), runs), unit="min")
    minutes = start + pd.to_timedelta(np.arange(days * 1440), unit="min")
    rollout = np.arange(days * 1440) // (9 * 60)
    frames = [
        pd.DataFrame({
            "timestamp": cron_t, "namespace": "batch", "workload": "report", "container": "job",
            "pod": [f"report-{29000000 + i // 3 * 10}-x2k9q" for i in range(len(cron_t))],
            "cpu_cores": rng.gamma(2.0, 0.2, len(cron_t)),
            "memory_working_set_bytes": rng.integers(100, 400, len(cron_t)) * MIB * 1.0,
            "memory_limit_bytes": 512.0 * MIB,
        }),
        pd.DataFrame({
            "timestamp": minutes, "namespace": "shop", "workload": "web", "container": "app",
            "pod": [f"web-{r}" for r in rollout],
            "cpu_cores": rng.gamma(2.0, 0.05, len(minutes)) * (1 + rollout % 3),
            "memory_working_set_bytes": (300 + 40 * rollout + rng.normal(0, 5, len(minutes)))
            * MIB,
            "memory_limit_bytes": (600.0 + 100 * rollout) * MIB,
            "platform": np.where(rollout % 2 == 1, "", "kubernetes"),
        }),
        pd.DataFrame({
            "timestamp": minutes, "namespace": "shop", "workload": "db", "container": "db",
            "pod": "db-0", "cpu_cores": rng.gamma(4.0, 0.1, len(minutes)),
            "memory_working_set_bytes": rng.normal(2000, 30, len(minutes)) * MIB,
            "memory_limit_bytes": 4096.0 * MIB, "platform": "kubernetes",
        }),
    ]
    return validate_usage(pd.concat(frames, ignore_index=True), "test")


def by_day(u: pd.DataFrame) -> list[pd.DataFrame]:
    return [daily_rollup(g) for _, g in u.groupby(u["timestamp"].dt.floor("D"))]


def test_a_day_of_many_pods_folds_into_one_row_per_container() -> None:
    rollups = pd.concat(by_day(usage()), ignore_index=True)
    folded = fold_pods(rollups)
    assert len(rollups) > 400  # one row per CronJob pod
    assert len(folded) == 3 * 3  # three containers, three days
    assert set(folded["pod"]) == {""}
    assert list(folded.columns) == list(rollups.columns)
    pods, merged = History(rollups), History(folded)
    for attr in ("samples", "t_first", "t_last", "cpu_max", "mem_max", "hourly_peaks",
                 "daily_peaks"):
        np.testing.assert_array_equal(getattr(merged, attr), getattr(pods, attr), err_msg=attr)
    for col in (*sketch.CURRENT_COLUMNS, "restarts"):
        np.testing.assert_array_equal(merged.current(col), pods.current(col), err_msg=col)
    # batch/report has no platform; web's newest pod names none, the one before does.
    assert merged.platform == pods.platform == [None, "kubernetes", "kubernetes"]
    qs = np.array([0.5, 0.9, 0.99])
    np.testing.assert_array_equal(percentile_values(merged, "cpu", qs),
                                  percentile_values(pods, "cpu", qs))
    np.testing.assert_array_equal(percentile_values(merged, "mem", qs),
                                  percentile_values(pods, "mem", qs))


def test_the_newest_pod_gives_the_days_current_limit() -> None:
    folded = fold_pods(pd.concat(by_day(usage(days=1)), ignore_index=True))
    web = folded[folded["workload"] == "web"].iloc[0]
    # Pods web-0, web-1 and web-2 ran that day; web-2 (limit 800 MiB) is the newest.
    assert web["memory_limit_bytes"] == 800.0 * MIB
    assert web["n"] == 1440


def test_a_projected_read_folds_with_only_its_columns() -> None:
    rollups = pd.concat(by_day(usage(days=2)), ignore_index=True)
    cols = rollup_columns("tail")
    folded = fold_pods(rollups[cols])
    assert list(folded.columns) == cols
    whole = fold_pods(rollups)
    for col in ("n", "mem_max", "cpu_c"):
        assert [np.asarray(v).tolist() for v in folded[col]] == \
            [np.asarray(v).tolist() for v in whole[col]], col


@pytest.mark.parametrize("strategy", sorted(s for s in STRATEGIES if folds_pods(s)))
def test_a_strategy_sizes_folded_rows_as_it_sizes_a_row_per_pod(strategy: str) -> None:
    """The strategy itself, given the history of the rows per pod and of the same rows
    folded per container and day: the same numbers (recency-weighted sums add in another
    order, so to the last bits) and the same reasons."""
    rollups = pd.concat(by_day(usage()), ignore_index=True)
    strat = get_strategy(strategy)
    got = []
    for rows in (rollups, pd.concat([fold_pods(d) for d in by_day(usage())],
                                    ignore_index=True)):
        h = History(rows)
        got.append(strat.fn(h, evidence(h, None, None, rows), DEFAULT_POLICY))
    per_pod, folded = got
    for field in ("cpu_request", "cpu_limit", "mem_request", "mem_limit"):
        np.testing.assert_allclose(getattr(folded, field), getattr(per_pod, field),
                                   rtol=1e-12, err_msg=field)
    assert folded.reasons == per_pod.reasons


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_rollups_folded_as_read_give_the_answers_of_the_raw_samples(strategy: str) -> None:
    """As the store reads them for a strategy that folds (each day folded as it is read),
    or per pod for one that does not: the recommendation is the raw path's."""
    u = usage()
    read = [fold_pods(d[rollup_columns(strategy)]) if folds_pods(strategy)
            else d[rollup_columns(strategy)] for d in by_day(u)]
    got = recommend_from_rollups(pd.concat(read, ignore_index=True), strategy=strategy)
    assert [r.to_dict() for r in got] == [r.to_dict() for r in recommend(u, strategy=strategy)]


def test_krr_and_vpa_keep_their_pods() -> None:
    """KRR sizes CPU from the highest pod's p95: the web pods' CPU steps up with each
    rollout, so the busiest pod's p95 is above the p95 of all samples together."""
    assert not folds_pods("krr") and not folds_pods("krr-oom") and not folds_pods("vpa")
    assert all(folds_pods(s) for s in STRATEGIES if s not in ("krr", "krr-oom", "vpa"))
    u = usage()
    web = u[u["workload"] == "web"]
    krr = {r.workload: r for r in recommend(u, strategy="krr")}["web"]
    highest_pod = web.groupby("pod")["cpu_cores"].quantile(0.95).max()
    together = np.quantile(web["cpu_cores"], 0.95)
    assert together * 1000 * 1.01 < highest_pod * 1000 <= krr.cpu_request_millicores
    assert krr.cpu_request_millicores <= highest_pod * 1000 * 1.005 + 1


def test_percentiles_a_block_of_rows_at_a_time_are_those_of_all_rows_at_once() -> None:
    """One row per CronJob pod: the dense histograms are built a few rows at a time, and
    the block boundaries change no value."""
    pods = History(pd.concat(by_day(usage()), ignore_index=True), key=sketch.POD_KEY)
    blocks = list(pods.histogram_blocks("cpu", decayed=False, cells=7 * sketch.NBUCKETS))
    assert len(blocks) > 10 and [lo for lo, _ in blocks] == list(range(0, pods.size, 7))
    whole = list(pods.histogram_blocks("cpu", decayed=False, cells=pods.size * sketch.NBUCKETS))
    assert len(whole) == 1
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), whole[0][1])


@pytest.mark.parametrize("prefix", ["cpu", "mem"])
def test_percentiles_from_the_non_empty_buckets_only_are_the_dense_ones(prefix: str) -> None:
    """Rows of a few samples (a CronJob's pods) are sized from their non-empty buckets: the
    values are those of the dense histograms to the bit, across blocks of rows too."""
    pods = History(pd.concat(by_day(usage(days=9)), ignore_index=True), key=sketch.POD_KEY)
    assert pods.size > BLOCK_CELLS // sketch.NBUCKETS  # more than one block
    assert pods.bucket_entries(prefix) * 16 < pods.size * sketch.NBUCKETS  # chosen by itself
    qs = np.array([0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 1.0])
    np.testing.assert_array_equal(percentile_values(pods, prefix, qs, sparse=True),
                                  percentile_values(pods, prefix, qs, sparse=False))
    np.testing.assert_array_equal(percentile_values(pods, prefix, qs),
                                  percentile_values(pods, prefix, qs, sparse=False))


@pytest.mark.parametrize("cuts", [[1000, 1001, 2500, 4321, 5000], [7], list(range(0, 6000, 97))])
def test_folding_again_and_again_gives_the_single_folds_history(cuts: list[int]) -> None:
    """A stream folds each chunk's pieces into what it holds, its pods' current values
    kept aside (``PodCurrents``): pieces cut at any row give the history one fold of the
    whole days gives."""
    u = usage(days=2)
    held: pd.DataFrame | None = None
    currents = PodCurrents()
    for a, b in zip([0, *cuts], [*cuts, len(u)], strict=True):
        piece = daily_rollup(u.iloc[a:b])
        currents.add(piece)
        held = fold_pods(piece if held is None else pd.concat([held, piece], ignore_index=True))
    assert held is not None and len(held) == 3 * 2
    once = fold_pods(pd.concat(by_day(u), ignore_index=True))
    streamed = History(currents.resolve(held))
    whole = History(once)
    for attr in ("samples", "t_first", "t_last", "cpu_max", "mem_max", "hourly_peaks"):
        np.testing.assert_array_equal(getattr(streamed, attr), getattr(whole, attr),
                                      err_msg=attr)
    for col in (*sketch.CURRENT_COLUMNS, "restarts"):
        np.testing.assert_array_equal(streamed.current(col), whole.current(col), err_msg=col)
    assert streamed.platform == whole.platform
    qs = np.array([0.5, 0.9, 0.99])
    np.testing.assert_array_equal(percentile_values(streamed, "cpu", qs),
                                  percentile_values(whole, "cpu", qs))


def samples(pod: str, times: list[str], limit: float) -> pd.DataFrame:
    return validate_usage(pd.DataFrame({
        "timestamp": pd.to_datetime(times, utc=True), "namespace": "shop", "workload": "web",
        "pod": pod, "container": "app", "cpu_cores": 0.1, "memory_working_set_bytes": 1e8,
        "memory_limit_bytes": limit}), "test")


def streamed_limit(chunks: list[pd.DataFrame]) -> float:
    currents = PodCurrents()
    held: pd.DataFrame | None = None
    for chunk in chunks:
        piece = daily_rollup(chunk)
        currents.add(piece)
        held = fold_pods(piece if held is None else pd.concat([held, piece], ignore_index=True))
    assert held is not None
    return float(currents.resolve(held)["memory_limit_bytes"].iloc[0])


def whole_limit(chunks: list[pd.DataFrame]) -> float:
    return float(History(daily_rollup(pd.concat(chunks, ignore_index=True))).current(
        "memory_limit_bytes")[0])


def test_a_pods_later_samples_without_a_limit_keep_its_own_limit_the_newest() -> None:
    """web-a is the newest pod (its last sample at 12:00), its limit the 1 GiB it reported at
    10:00; web-b's 2 GiB at 11:00 is older, whichever chunk brought the 12:00 sample."""
    chunks = [samples("web-a", ["2026-11-02T10:00"], 1.0 * 2**30),
              samples("web-b", ["2026-11-02T11:00"], 2.0 * 2**30),
              samples("web-a", ["2026-11-02T12:00"], np.nan)]
    assert whole_limit(chunks) == 2**30
    assert streamed_limit(chunks) == 2**30
    assert streamed_limit([pd.concat(chunks[:2]), chunks[2]]) == 2**30


def test_pods_seen_last_at_the_same_time_give_one_pod_whatever_the_order() -> None:
    """Two pods of a container both last seen at 10:00: the limit is the one of the pod whose
    names hash larger, however the input orders the pods or cuts them into chunks (the
    store, which sorts each day by name, must come to the same pod)."""
    a = samples("web-a", ["2026-11-02T09:00", "2026-11-02T10:00"], 1.0 * 2**30)
    b = samples("web-b", ["2026-11-02T09:30", "2026-11-02T10:00"], 2.0 * 2**30)
    first, second = pod_hashes(pd.concat([a.iloc[:1], b.iloc[:1]]))
    want = (b if second > first else a)["memory_limit_bytes"].iloc[0]
    assert whole_limit([a, b]) == whole_limit([b, a]) == want
    assert float(fold_pods(daily_rollup(pd.concat([b, a])))["memory_limit_bytes"].iloc[0]) \
        == float(fold_pods(daily_rollup(pd.concat([a, b])))["memory_limit_bytes"].iloc[0]) \
        == want
    for chunks in ([a, b], [pd.concat([a, b])], [a.iloc[:1], b, a.iloc[1:]], [b, a],
                   [b.iloc[:1], a, b.iloc[1:]]):
        assert streamed_limit(chunks) == want


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_container_without_a_workload_name_is_its_own_container(strategy: str) -> None:
    """Rows with no workload are numbered as a key of their own (after the named ones), not
    given the last name's code (that sized "zzz" from the nameless pod and broke VPA), nor
    dropped from a strategy's window."""
    t = pd.Timestamp("2026-11-02T00:00:00Z") + pd.to_timedelta(np.arange(900) * 5, unit="min")
    rows = pd.concat([pd.DataFrame({
        "timestamp": t, "namespace": "shop", "workload": workload, "pod": pod,
        "container": "app", "cpu_cores": 0.1, "memory_working_set_bytes": mib * float(MIB),
    }) for workload, pod, mib in (("web", "web-1", 400), (None, "x-1", 1200),
                                  ("zzz", "zzz-1", 800))], ignore_index=True)
    got = {r.workload if isinstance(r.workload, str) else None: r.memory_request_mib
           for r in recommend_from_rollups(daily_rollup(rows), strategy=strategy)}
    assert set(got) == {"web", "zzz", None}
    assert got["web"] < got["zzz"] < got[None]
