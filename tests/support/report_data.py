"""Generated fleets for report tests and the report benchmark.

Shapes follow the bundled Bitbrains sample (5-minute samples, a daily cycle, memory that
creeps and drops back at restarts); a few containers are OOM-killed and restart, and one
workload carries a hostile name.  Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune import model

HOSTILE = "<img src=x onerror=alert(1)>"
START = pd.Timestamp("2026-11-13T00:00:00Z")


def fleet(containers: int, *, days: float = 14, step_s: int = 300, seed: int = 7,
          hostile: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usage, events) for ``containers`` containers spread over a few namespaces."""
    rng = np.random.default_rng(seed)
    n = int(days * 86400 // step_s)
    t = START + pd.to_timedelta(np.arange(n) * step_s, unit="s")
    hours = np.arange(n) * step_s / 3600
    frames, events = [], []
    for i in range(containers):
        ns = f"team-{i % 7}"
        wl = HOSTILE if hostile and i == 3 else f"svc-{i // 3}"
        ct = ["app", "sidecar", "worker"][i % 3]
        base = rng.uniform(0.05, 1.5)
        cpu = base * (1 + 0.6 * np.sin(2 * np.pi * hours / 24 + rng.uniform(0, 6)))
        cpu = np.clip(cpu + rng.gamma(1.5, base * 0.1, n), 0, None)
        mem_base = rng.uniform(64, 2048) * 2**20
        creep = np.cumsum(rng.normal(0.0, 1.0, n)) * 2**20 * rng.uniform(0, 2)
        mem = np.clip(mem_base + creep + rng.normal(0, mem_base * 0.02, n), 16 * 2**20, None)
        req_cpu = round(base * rng.uniform(1.0, 4.0), 1)
        req_mem = float(np.ceil(mem_base * rng.uniform(1.2, 3.0) / 2**20)) * 2**20
        frames.append(pd.DataFrame({
            "timestamp": t, "namespace": ns, "workload": wl, "pod": f"{wl}-{i}",
            "container": ct, "cpu_cores": cpu, "memory_working_set_bytes": mem,
            "cpu_request_cores": req_cpu, "cpu_limit_cores": req_cpu * 2,
            "memory_request_bytes": req_mem, "memory_limit_bytes": req_mem,
        }))
        if i % 10 == 3:  # OOM kills and a restart for every tenth container
            for k in (n // 3, 2 * n // 3):
                events.append({"timestamp": t[k], "namespace": ns, "workload": wl,
                               "pod": f"{wl}-{i}", "container": ct, "kind": "termination",
                               "reason": "OOMKilled", "exit_code": 137, "oom_killed": True,
                               "message": f"killed <script>alert({i})</script>",
                               "source": "test"})
            events.append({"timestamp": t[n // 2], "namespace": ns, "workload": wl,
                           "pod": f"{wl}-{i}", "container": ct, "kind": "termination",
                           "reason": "Error", "exit_code": 1, "oom_killed": False,
                           "message": "exited", "source": "test"})
    # Already in canonical dtypes; model.validate_usage is what importers call.
    usage = pd.concat(frames, ignore_index=True)
    ev = pd.DataFrame(events, columns=model.EVENT_COLUMNS) if events else model.empty_events()
    if not ev.empty:
        ev["timestamp"] = pd.to_datetime(ev["timestamp"], utc=True)
    return usage, ev


def simple_recommendations(usage: pd.DataFrame, strategy: str = "test-p95"
                           ) -> list[model.Recommendation]:
    """p95 CPU and peak memory + 15 %: enough to exercise the report without the strategies."""
    out = []
    for (ns, wl, ct), g in usage.groupby(model.KEY_COLUMNS, sort=False):
        cpu = int(np.ceil(g["cpu_cores"].quantile(0.95) * 1150))
        mem = int(np.ceil(g["memory_working_set_bytes"].max() * 1.15 / 2**20))
        cur = model.Current(
            cpu_request_millicores=int(np.ceil(g["cpu_request_cores"].iloc[-1] * 1000)),
            memory_request_mib=int(np.ceil(g["memory_request_bytes"].iloc[-1] / 2**20)),
            memory_limit_mib=int(np.ceil(g["memory_limit_bytes"].iloc[-1] / 2**20)),
            cpu_limit_millicores=int(np.ceil(g["cpu_limit_cores"].iloc[-1] * 1000)),
        ) if "cpu_request_cores" in g else model.Current()
        hours = (g["timestamp"].max() - g["timestamp"].min()).total_seconds() / 3600
        out.append(model.Recommendation(
            namespace=ns, workload=wl, container=ct, cpu_request_millicores=cpu,
            cpu_limit_millicores=None, memory_request_mib=mem, memory_limit_mib=mem,
            current=cur, strategy=strategy, samples=len(g), history_hours=hours,
            confidence="high", status="ok", reasons=(f"p95 of {len(g)} samples + 15 %",)))
    return out
