"""The VPA and KRR emulations against answers worked by hand from the upstream algorithms, on
the points where a per-container reading drifts from them (docs/architecture.md, "Extension
points": strategies), and the other strategies' indifference to pods."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quotatune.analysis.recommend import STRATEGIES, recommend, recommend_from_rollups
from quotatune.rollup.sketch import daily_rollup

MIB = 1 << 20
T0 = pd.Timestamp("2026-11-01T00:00:00Z")


def pod(name: str, container: str, *, days: list[int], cpu: float, mem_by_day: dict[int, float],
        workload: str = "api", mem_request: float | None = None) -> pd.DataFrame:
    """One pod's container: 1-minute samples over whole UTC days, flat within each day."""
    frames = []
    for d in days:
        t = T0 + pd.Timedelta(days=d) + pd.to_timedelta(np.arange(1440), unit="min")
        frames.append(pd.DataFrame({
            "timestamp": t, "namespace": "shop", "workload": workload, "pod": name,
            "container": container, "cpu_cores": cpu,
            "memory_working_set_bytes": mem_by_day[d],
        }))
    out = pd.concat(frames, ignore_index=True)
    if mem_request is not None:
        out["memory_request_bytes"] = mem_request
    return out


def vpa_mem_bucket_end(value: float) -> float:
    """VPA's memory histogram: bucket k starts at 1e7 * (1.05^k - 1) / 0.05; a percentile
    reads as the end of its bucket."""
    k = math.floor(math.log(value * 0.05 / 1e7 + 1) / math.log(1.05))
    return 1e7 * (1.05 ** (k + 1) - 1) / 0.05


def only(recs):  # type: ignore[no-untyped-def]
    assert len(recs) == 1
    return recs[0]


def test_vpa_pod_minimums_are_split_over_the_pods_containers():
    """vertical-pod-autoscaler pkg/recommender/logic/recommender.go, GetRecommendedPodResources:
    the pod minimums (pod-recommendation-min-cpu-millicores 25, -min-memory-mb 250) are scaled
    by 1 / containers per pod before they floor each container's target; amounts are whole
    millicores and bytes, cut down.  Two containers: 12.5m -> 12m, 125 MiB; three: 8.33m ->
    8m, which the target itself passes (an idle container's p90 is the first bucket's end,
    10m, x1.15 = 11.5m -> 12m), and 262,144,000 / 3 = 87,381,333 bytes -> 84 MiB rounded up;
    one: 25m, 250 MiB."""
    tiny = {0: 5 * MIB, 1: 5 * MIB}
    for names, cpu_m, mem_mib in ((["app", "proxy"], 12, 125),
                                  (["app", "proxy", "log"], 12, 84), (["app"], 25, 250)):
        u = pd.concat([pod("api-0", c, days=[0, 1], cpu=0.001, mem_by_day=tiny) for c in names])
        recs = recommend(u, strategy="vpa")
        assert [(r.cpu_request_millicores, r.memory_request_mib) for r in recs] == \
            [(cpu_m, mem_mib)] * len(names)
        if len(names) > 1:
            assert any(f"split over {len(names)} containers" in x for x in recs[0].reasons)


def test_vpa_keeps_one_memory_peak_per_pod_and_day():
    """vertical-pod-autoscaler pkg/recommender/model/container.go, addMemorySample: each
    ContainerState (one per pod) adds its own peak per aggregation interval to the container's
    aggregate histogram.  Ten replicas for a day: nine peak at 500 MiB, one at 2,000 MiB.  Ten
    equal weights: 9/10 reach the p90 threshold in the 500 MiB bucket (524,288,000 bytes:
    bucket floor(log(3.62144)/log 1.05) = 26, end 1e7 * (1.05^27 - 1) / 0.05), x1.15.  One
    peak per workload would have read 2,000 MiB."""
    replicas = [pod(f"api-{i}", "app", days=[0, 1], cpu=0.2,
                    mem_by_day={0: 500 * MIB, 1: 500 * MIB}) for i in range(9)]
    replicas.append(pod("api-9", "app", days=[0, 1], cpu=0.2,
                        mem_by_day={0: 2000 * MIB, 1: 2000 * MIB}))
    rec = only(recommend(pd.concat(replicas), strategy="vpa"))
    assert rec.memory_request_mib == math.ceil(vpa_mem_bucket_end(500 * MIB) * 1.15 / MIB)
    assert rec.memory_request_mib < 700
    assert any("20 daily peaks of 10 pods" in x for x in rec.reasons)


def test_vpa_counts_every_oom_kill_in_its_own_window():
    """container.go, RecordOOM: every kill adds a sample max(used + 100 MiB, used x 1.2),
    used = max(request, the pod's peak so far in the window).  One pod, seven days of 200 MiB
    except day 5 at 1,000 MiB; kills on day 5 (bump 1,200 MiB) and day 6 (bump 300 MiB).
    Weights by window end: days 0-4 sum 31/64, day 5 1/2, day 6 1; total 127/64, p90
    threshold 1.786.  Sorted: 200 MiB (0.484), 300 MiB (1.484), 1,200 MiB (1.984): p90 is
    the 1,200 MiB bucket.  Counting only the newest kill would leave day 5 at 1,000 MiB."""
    mem = {d: 200.0 * MIB for d in range(7)} | {5: 1000.0 * MIB}
    u = pod("api-0", "app", days=list(range(7)), cpu=0.2, mem_by_day=mem)
    kills = pd.DataFrame({
        "timestamp": [T0 + pd.Timedelta(days=5, hours=12), T0 + pd.Timedelta(days=6, hours=12)],
        "namespace": "shop", "workload": "api", "pod": "api-0", "container": "app",
        "reason": "OOMKilled", "oom_killed": True})
    rec = only(recommend(u, events=kills, strategy="vpa"))
    assert rec.memory_request_mib == math.ceil(vpa_mem_bucket_end(1200 * MIB) * 1.15 / MIB)
    assert any("2 OOM kill(s), each counted" in x for x in rec.reasons)


def test_vpa_oom_bump_starts_from_the_request_when_it_is_higher():
    """RecordOOM: used = max(request, peak); request 1,000 MiB over a 300 MiB peak gives
    max(1,100, 1,200) = 1,200 MiB on the kill's day (the newest, so it carries p90)."""
    u = pod("api-0", "app", days=[0, 1], cpu=0.2, mem_by_day={0: 300 * MIB, 1: 300 * MIB},
            mem_request=1000 * MIB)
    kill = pd.DataFrame({"timestamp": [T0 + pd.Timedelta(days=1, hours=3)], "namespace": "shop",
                         "workload": "api", "pod": "api-0", "container": "app",
                         "reason": "OOMKilled"})
    rec = only(recommend(u, events=kill, strategy="vpa"))
    assert rec.memory_request_mib == math.ceil(vpa_mem_bucket_end(1200 * MIB) * 1.15 / MIB)


def test_vpa_memory_peaks_decay_by_real_time_not_by_day_number():
    """pkg/recommender/util/decaying_histogram.go: a sample's weight is 2^((t - ref) / half
    life), t the window's end.  Peaks on day 0 (2,000 MiB) and day 4 (400 MiB), nothing in
    between: weights 1/16 and 1, so 400 MiB holds 16/17 > 90 % and is the p90.  Numbering the
    two days 0 and 1 would weigh them 1/2 and 1 and read 2,000 MiB."""
    u = pod("api-0", "app", days=[0, 4], cpu=0.2, mem_by_day={0: 2000 * MIB, 4: 400 * MIB})
    rec = only(recommend(u, strategy="vpa"))
    assert rec.memory_request_mib == math.ceil(vpa_mem_bucket_end(400 * MIB) * 1.15 / MIB)


def test_krr_cpu_is_the_highest_pods_p95():
    """robusta-dev/krr strategies/simple.py, calculate_cpu_proposal: the loader returns each
    pod's quantile_over_time(0.95) and the proposal is their maximum.  Pod a: four days at
    0.1 core (5,760 samples); pod b: one hour at 0.5 core (60 samples).  Each pod's p95 is
    its constant, the largest 500m; over the pooled samples b is 1 % and p95 would be 100m."""
    a = pod("api-a", "app", days=[0, 1, 2, 3], cpu=0.1, mem_by_day=dict.fromkeys(range(4), 1e8))
    b = pod("api-b", "app", days=[3], cpu=0.5, mem_by_day={3: 1e8})
    b = b[b["timestamp"] < T0 + pd.Timedelta(days=3, hours=1)]
    rec = only(recommend(pd.concat([a, b]), strategy="krr"))
    assert rec.cpu_request_millicores == 500
    assert any("the highest of 2 pods' p95" in x for x in rec.reasons)
    pooled = only(recommend(pd.concat([a, b]), strategy="percentile"))
    assert pooled.cpu_request_millicores < 110  # 100m to within the sketch's bucket


def test_krr_ignores_oom_kills_unless_asked():
    """krr simple.py: the OOM bump (limit in force x 1.25) applies only with use_oomkill_data,
    which is off by default.  Peak 200 MiB: krr gives 200 x 1.15 = 230 MiB; krr-oom, after a
    kill at a 512 MiB limit, 640 MiB."""
    u = pod("api-0", "app", days=[0, 1], cpu=0.2, mem_by_day={0: 200 * MIB, 1: 200 * MIB})
    u["memory_limit_bytes"] = 512.0 * MIB
    kill = pd.DataFrame({"timestamp": [T0 + pd.Timedelta(days=1)], "namespace": "shop",
                         "workload": "api", "pod": "api-0", "container": "app",
                         "reason": "OOMKilled"})
    assert only(recommend(u, events=kill, strategy="krr")).memory_limit_mib == 230
    assert only(recommend(u, events=kill, strategy="krr-oom")).memory_limit_mib == 640


def fleet_with_pods(seed: int = 0) -> pd.DataFrame:
    """Three workloads of one container; w1 runs two replicas, w2 restarts into a new pod."""
    rng = np.random.default_rng(seed)
    parts = []
    for wl, pods in (("w0", ["w0-a"]), ("w1", ["w1-a", "w1-b"]), ("w2", ["w2-a", "w2-b"])):
        for j, name in enumerate(pods):
            days = [0, 1, 2] if wl != "w2" else [j * 2, j * 2 + 1]
            p = pod(name, "app", days=days, cpu=0.1, workload=wl,
                    mem_by_day={d: 1e8 for d in days})
            p["cpu_cores"] = rng.gamma(2.0, 0.05 * (j + 1), len(p))
            p["memory_working_set_bytes"] = (300 + 100 * j + rng.normal(0, 20, len(p))) * MIB
            parts.append(p)
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_single_pod_containers_read_as_before(strategy):
    """A rollup without pods (one row per container and day, the form before pods were kept)
    and one with them give every strategy the same answer when each container has one pod."""
    u = fleet_with_pods()
    u = u[u["workload"] == "w0"]
    with_pods = recommend_from_rollups(daily_rollup(u), strategy=strategy)
    without = recommend_from_rollups(daily_rollup(u).drop(columns="pod"), strategy=strategy)
    assert [r.to_dict() for r in with_pods] == [r.to_dict() for r in without]


@pytest.mark.parametrize("strategy", sorted(set(STRATEGIES) - {"vpa", "krr", "krr-oom"}))
def test_other_strategies_see_containers_not_pods(strategy):
    """Every strategy but the emulations merges a container's pods: the answer is the same as
    if all the pods' samples had come from one pod."""
    u = fleet_with_pods()
    per_pod = recommend(u, strategy=strategy)
    merged = recommend(u.assign(pod=u["workload"]), strategy=strategy)
    assert [r.to_dict() for r in per_pod] == [r.to_dict() for r in merged]


def test_a_store_written_with_per_container_rollups_is_read_per_pod(tmp_path):
    """A store whose days carry rollups of the previous version (one row per container)
    rolls them up again from the samples when read, so the emulations see the pods."""
    from quotatune.model.collected import Collected
    from quotatune.rollup.sketch import ROLLUP_VERSION
    from quotatune.store.history import Store

    u = fleet_with_pods()
    old = Store(tmp_path, rollup=lambda df: daily_rollup(df.drop(columns="pod")),
                rollup_version="1")
    old.append(Collected(usage=u))
    assert set(old.read_rollups()["pod"]) == {""}  # type: ignore[index]
    new = Store(tmp_path, rollup=daily_rollup, rollup_version=ROLLUP_VERSION)
    rollups = new.read_rollups()
    assert rollups is not None
    assert set(rollups["pod"]) == set(u["pod"])
    assert [r.to_dict() for r in recommend_from_rollups(rollups, strategy="krr")] == \
        [r.to_dict() for r in recommend(u, strategy="krr")]
