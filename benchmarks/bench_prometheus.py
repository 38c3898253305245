"""Prometheus source speed and load: series and samples per second pulled from a real
Prometheus; wall time, queries and samples touched on the server for sample mode, aggregate
mode without and with the recording rules; and how query splitting behaves as the server's
``--query.max-samples`` shrinks.

Backfills Debian's Prometheus (as the tests do) with ``--vms`` containers of the bundled
Bitbrains sample, ``--days`` days at 1-minute resolution in cAdvisor names, spread over four
namespaces; then times, in the same run:

  - sample mode: ``collect_prometheus`` (CPU rate, memory, throttling, owners, requests,
    OOM and termination series; split by namespace and time);
  - baseline: the naive way, one ``query_range`` per container and metric (CPU, memory,
    throttling) with ``requests``, JSON rows turned into a DataFrame row by row;
  - aggregate mode: ``rollups_from_prometheus`` (what ``recommend --prometheus`` pulls), then
    ``recommend_from_rollups``; and sample mode followed by ``recommend``.

Sample mode and the baseline run twice, interleaved, and the faster run of each is kept (the
machine is shared).  Bytes on the wire are counted by a pass-through proxy.

Load on the server side is what Prometheus itself reports per query with ``stats=all``
(``data.stats.samples.totalQueryableSamples``, summed; ``peakSamples``, the heaviest query).
The three modes, in the same run: sample mode; aggregate mode on the raw series (per-minute
subqueries, ``rules=False``); aggregate mode on the rules' 5-minute series, backfilled with
``promtool tsdb create-blocks-from rules`` into a second server.  Then servers started with a
falling ``--query.max-samples`` are collected from with the default budget (refused queries
are split) and with a budget under the limit (nothing refused), against the unconstrained
result.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import requests  # noqa: E402

from quotatune.analysis.recommend import recommend, recommend_from_rollups  # noqa: E402
from quotatune.sources.prometheus.aggregate import rollups_from_prometheus  # noqa: E402
from quotatune.sources.prometheus.client import PrometheusClient  # noqa: E402
from quotatune.sources.prometheus.collector import collect_prometheus  # noqa: E402
from quotatune.sources.prometheus.rules import RULE_STEP  # noqa: E402
from quotatune.sources.prometheus.split import Budget  # noqa: E402
from tests.support.prometheus import (  # noqa: E402
    SAMPLE,
    Container,
    FaultProxy,
    backfill_rules,
    build_data,
    require_prometheus,
    start_prometheus,
)

STEP = timedelta(minutes=1)


def containers(n: int) -> tuple[list[Container], list[str]]:
    vms = sorted(p.name.split(".")[0] for p in SAMPLE.glob("*.csv.gz"))
    out = []
    for i in range(n):
        out.append(Container(vms[i % len(vms)], f"team-{i % 4}", f"svc{i}-5f97dc94d8-x2k9p",
                             "app", f"svc{i}", None))
    return out, [c.vm for c in out]


def naive(url: str, cs: list[Container], start: float, end: float) -> int:
    s = requests.Session()
    rows = 0
    for c in cs:
        sel = f'namespace="{c.namespace}",pod="{c.pod}",container="{c.container}"'
        for q in (f"rate(container_cpu_usage_seconds_total{{{sel}}}[2m])",
                  f"container_memory_working_set_bytes{{{sel}}}",
                  f"rate(container_cpu_cfs_throttled_periods_total{{{sel}}}[2m]) / "
                  f"rate(container_cpu_cfs_periods_total{{{sel}}}[2m])"):
            r = s.get(f"{url}/api/v1/query_range", params={
                "query": q, "start": start, "end": end, "step": 60}, timeout=120).json()
            recs = []
            for series in r["data"]["result"]:
                for t, v in series["values"]:
                    recs.append({**series["metric"], "timestamp": t, "value": float(v)})
            rows += len(pd.DataFrame(recs))
    return rows


def load(client: PrometheusClient, fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run ``fn``; wall and CPU seconds, queries sent, and the samples the server touched
    (summed) and held at most in one query, from Prometheus' own ``stats=all``."""
    q0, s0 = client.requests_sent, client.samples_touched
    client.peak_samples = 0
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, {"wall": time.perf_counter() - t, "cpu": time.process_time() - c,
                 "queries": client.requests_sent - q0,
                 "samples": client.samples_touched - s0, "peak": client.peak_samples}


def _row(name: str, m: dict[str, float]) -> str:
    return (f"  {name:<34} {m['wall']:7.2f} s wall {m['cpu']:6.2f} s CPU {m['queries']:6.0f} "
            f"queries {m['samples']:14,.0f} samples touched  peak {m['peak']:11,.0f}")


def _recs(pair: tuple) -> list[dict]:
    rollups, extra = pair
    assert not extra.errors, extra.errors
    return [r.to_dict() for r in recommend_from_rollups(rollups, extra.specs, extra.events)]


def three_modes(data: Any, root: Path, server: Any, days: int) -> None:
    """Sample mode, aggregate on the raw series, aggregate on the recording rules."""
    end = int(data.end.timestamp() // RULE_STEP * RULE_STEP)
    window = timedelta(days=days) - timedelta(hours=1)  # the rules need 5 min before it
    client = PrometheusClient(server.url, timeout=300, stats=True)
    got, m_sample = load(client, lambda: collect_prometheus(client, window=window, step=STEP,
                                                            now=data.end))
    assert not got.errors, got.errors
    t, c = time.perf_counter(), time.process_time()
    recs_s = [r.to_dict() for r in recommend(got.usage, got.specs, got.events)]
    m_sample["wall"] += time.perf_counter() - t
    m_sample["cpu"] += time.process_time() - c
    raw, m_raw = load(client, lambda: rollups_from_prometheus(
        client, window=window, step=STEP, now=data.end, rules=False))
    recs_raw = _recs(raw)
    t0 = time.perf_counter()
    tsdb = backfill_rules(server.url, data.blocks, end - days * 86400 + 300, end,
                          root / "ruled")
    backfill_s = time.perf_counter() - t0
    ruled = start_prometheus(tsdb, root / "ruled")
    try:
        rclient = PrometheusClient(ruled.url, timeout=300, stats=True)
        with_rules, m_rules = load(rclient, lambda: rollups_from_prometheus(
            rclient, window=window, step=STEP, now=data.end))
        assert any(n.startswith("read the recording rules") for n in with_rules[1].notes)
        recs_rules = _recs(with_rules)
    finally:
        ruled.stop()
    print(f"three modes, {window} of history (server-side load from Prometheus' stats=all; "
          f"rules backfilled by promtool in {backfill_s:.1f} s):")
    print(_row("sample mode (collect + recommend)", m_sample))
    print(_row("aggregate, raw series", m_raw))
    print(_row("aggregate, recording rules", m_rules))
    print(f"  aggregate with rules vs without: {m_raw['wall'] / m_rules['wall']:.1f}x faster, "
          f"{m_raw['samples'] / max(m_rules['samples'], 1):.1f}x fewer samples touched")
    print(f"  raw aggregate == sample mode: {recs_raw == recs_s}")
    diff = [(a, b) for a, b in zip(recs_rules, recs_raw, strict=True) if a != b]
    rel = [abs(a[k] - b[k]) / b[k] for a, b in diff for k in (
        "cpu_request_millicores", "memory_request_mib", "memory_limit_mib") if a[k] and b[k]]
    print(f"  rules vs raw: {len(recs_rules) - len(diff)} of {len(recs_rules)} recommendations "
          f"identical; largest relative difference {max(rel, default=0):.1%} (5-minute "
          "resolution: CPU as 5-minute means, memory as 5-minute peaks)")


def splitting(data: Any, root: Path, days: int, limits: list[int]) -> None:
    """Servers with a falling --query.max-samples: the default budget (refused queries are
    split) and a budget under the limit (planned to fit), against the unconstrained run."""
    window = timedelta(days=days) - STEP
    want = None
    print("query splitting as the server's --query.max-samples shrinks "
          "(collect prometheus; aggregate = recommend --prometheus):")
    for limit in limits:
        server = start_prometheus(data.blocks, root / f"limit-{limit}", max_samples=limit,
                                  query_timeout="60s")
        try:
            for label, budget in (("default budget", Budget()),
                                  ("budget 0.9 x limit", Budget(limit * 9 // 10))):
                client = PrometheusClient(server.url, timeout=300, stats=True)
                got, m = load(client, lambda c=client, b=budget: collect_prometheus(
                    c, window=window, step=STEP, now=data.end, budget=b))
                key = ["namespace", "pod", "container", "timestamp"]
                usage = got.usage.sort_values(key).reset_index(drop=True)
                want = usage if want is None else want
                same = not got.errors and usage.equals(want)
                print(f"  limit {limit:>11,} {label:<19} {m['wall']:7.2f} s {m['queries']:5.0f} "
                      f"queries, {budget.refused:4d} refused, {budget.splits:4d} split, "
                      f"ceiling {budget.ceiling:>10,}, peak {m['peak']:>10,.0f}, "
                      f"same data: {same}")
            budget = Budget()
            client = PrometheusClient(server.url, timeout=300, stats=True)
            (rollups, extra), m = load(client, lambda c=client, b=budget: rollups_from_prometheus(
                c, window=window, step=STEP, now=data.end, rules=False, budget=b))
            print(f"  limit {limit:>11,} {'aggregate, default':<19} {m['wall']:7.2f} s "
                  f"{m['queries']:5.0f} queries, {budget.refused:4d} refused, "
                  f"{budget.splits:4d} split, errors: {len(extra.errors)}")
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=20)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--limits", default="50000000,200000,50000,20000",
                    help="--query.max-samples of the splitting servers, comma-separated")
    args = ap.parse_args()
    reason = require_prometheus()
    if reason:
        print(f"skipped: {reason}")
        return
    root = Path(tempfile.mkdtemp(prefix="bench-prom-"))
    cs, vms = containers(args.vms)
    t0 = time.perf_counter()
    data = build_data(root, days=args.days, containers=cs, vms=vms)
    print(f"backfill: {data.series} series, {data.samples:,} samples written by promtool "
          f"in {time.perf_counter() - t0:.1f} s")
    server = start_prometheus(data.blocks, root)
    window = timedelta(days=args.days) - STEP
    try:
        with FaultProxy(server.url) as proxy:
            client = PrometheusClient(proxy.url, timeout=300)
            collect_prometheus(client, window=timedelta(hours=1), step=STEP, now=data.end)  # warm
            sample_s = naive_s = float("inf")
            for _ in range(2):
                b0 = proxy.bytes_sent
                t, cpu0 = time.perf_counter(), time.process_time()
                got = collect_prometheus(client, window=window, step=STEP, now=data.end)
                if time.perf_counter() - t < sample_s:
                    sample_s = time.perf_counter() - t
                    sample_cpu = time.process_time() - cpu0
                sample_bytes = proxy.bytes_sent - b0
                assert not got.errors, got.errors
                start = got.usage["timestamp"].min().timestamp()
                end = got.usage["timestamp"].max().timestamp()
                t = time.perf_counter()
                naive_rows = naive(server.url, cs, start, end)
                naive_s = min(naive_s, time.perf_counter() - t)
            t = time.perf_counter()
            recs_s = recommend(got.usage, got.specs, got.events)
            rec_local_s = time.perf_counter() - t
            b0 = proxy.bytes_sent
            t, cpu0 = time.perf_counter(), time.process_time()
            rollups, extra = rollups_from_prometheus(client, window=window, step=STEP,
                                                     now=data.end)
            recs_a = recommend_from_rollups(rollups, extra.specs, extra.events)
            agg_s = time.perf_counter() - t
            agg_cpu = time.process_time() - cpu0
            agg_bytes = proxy.bytes_sent - b0
            assert not extra.errors, extra.errors
        three_modes(data, root, server, args.days)
    finally:
        server.stop()
    splitting(data, root, args.days, [int(x) for x in args.limits.split(",")])
    n = got.usage[["namespace", "pod", "container"]].drop_duplicates().shape[0]
    series = n * 3  # CPU rate, memory, throttling per container
    samples = int(len(got.usage) * 2 + got.usage.get("cpu_throttled_ratio",
                                                    pd.Series(dtype=float)).notna().sum())
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"data: {n} containers x {args.days} days at 1 min = {len(got.usage):,} usage rows")
    print(f"sample mode   collect_prometheus: {sample_s:6.2f} s  {series / sample_s:8.1f} series/s"
          f"  {samples / sample_s:12,.0f} samples/s  {sample_bytes / 1e6:7.1f} MB pulled")
    print(f"baseline      naive per-series loop: {naive_s:6.2f} s  "
          f"{3 * n / naive_s:8.1f} series/s  {naive_rows / naive_s:12,.0f} samples/s "
          "(CPU, memory, throttling only)")
    print(f"sample mode + recommend: {sample_s + rec_local_s:6.2f} s wall "
          f"(recommend {rec_local_s:.2f} s), quotatune CPU {sample_cpu + rec_local_s:.2f} s")
    print(f"aggregate mode (rollups in Prometheus + recommend): {agg_s:6.2f} s wall, "
          f"quotatune CPU {agg_cpu:.2f} s, {agg_bytes / 1e6:7.2f} MB pulled "
          f"({sample_bytes / max(agg_bytes, 1):.0f}x less)")
    same = [r.to_dict() for r in recs_a] == [r.to_dict() for r in recs_s]
    print(f"recommendations identical in both modes: {same} ({len(recs_a)} containers)")


if __name__ == "__main__":
    main()
