"""Prometheus source speed: series and samples per second pulled from a real Prometheus, and
the wall time of aggregate mode (rollups computed inside Prometheus) against sample mode on
the same data.

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
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import requests  # noqa: E402

from quotatune.analysis.recommend import recommend, recommend_from_rollups  # noqa: E402
from quotatune.sources.prometheus.aggregate import rollups_from_prometheus  # noqa: E402
from quotatune.sources.prometheus.client import PrometheusClient  # noqa: E402
from quotatune.sources.prometheus.collector import collect_prometheus  # noqa: E402
from tests.support.prometheus import (  # noqa: E402
    SAMPLE,
    Container,
    FaultProxy,
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=20)
    ap.add_argument("--days", type=int, default=7)
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
    finally:
        server.stop()
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
