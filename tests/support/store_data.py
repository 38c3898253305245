"""A small store-shaped history with something for every usage-based finding: OOM kills and
restarts (from :func:`tests.support.report_data.fleet`), a leak that reaches its limit, a pod
replaced mid-way, a restart counter that bursts, CPU throttling.  Deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quotatune import model
from tests.support.report_data import START, fleet

MIB = 2**20


def troubled_fleet(containers: int = 24, days: float = 4, step_s: int = 300
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usage, events): ``fleet`` plus the troubled containers, validated."""
    usage, events = fleet(containers, days=days, step_s=step_s, hostile=True)
    n = int(days * 86400 // step_s)
    t = START + pd.to_timedelta(np.arange(n) * step_s, unit="s")
    rng = np.random.default_rng(11)
    extra = []

    def frame(wl: str, pod: str, mem: np.ndarray, ts: pd.DatetimeIndex, **cols: object
              ) -> pd.DataFrame:
        return pd.DataFrame({"timestamp": ts, "namespace": "ops", "workload": wl, "pod": pod,
                             "container": "app", "cpu_cores": rng.gamma(2.0, 0.1, len(ts)),
                             "memory_working_set_bytes": mem, **cols})

    # A leak: grows steadily towards its 1 GiB limit.
    leak = 200 * MIB + np.arange(n) * (700 * MIB / n) + rng.normal(0, 2 * MIB, n)
    extra.append(frame("leaky", "leaky-1", leak, t, memory_limit_bytes=1024.0 * MIB))
    # A growing container without a limit, replaced by a new pod half-way.
    half = n // 2
    grow = 300 * MIB + np.arange(n) * (400 * MIB / n)
    extra.append(frame("grower", "grower-a", grow[:half], t[:half]))
    extra.append(frame("grower", "grower-b", grow[half:] - 200 * MIB, t[half:]))
    # A restart counter that bursts (a crash loop seen in the samples), memory reset each time.
    restarts = np.zeros(n)
    restarts[n // 3:] = 1
    restarts[n // 3 + 3:] = 2
    restarts[n // 3 + 6:] = 5
    saw = 100 * MIB + (np.arange(n) % 40) * 3 * MIB
    extra.append(frame("looper", "looper-1", saw, t, restarts=restarts,
                       memory_limit_bytes=512.0 * MIB))
    # Throttled: most CFS periods throttled, and a small CPU limit.
    extra.append(frame("throttled", "throttled-1", np.full(n, 150.0 * MIB), t,
                       cpu_throttled_ratio=rng.uniform(0.3, 0.9, n), cpu_limit_cores=0.2))
    # Lightly throttled: below the threshold, must not fire.
    extra.append(frame("calm", "calm-1", np.full(n, 120.0 * MIB), t,
                       cpu_throttled_ratio=rng.uniform(0.0, 0.2, n)))
    usage = model.validate_usage(pd.concat([usage, *extra], ignore_index=True), "test")
    oom = pd.DataFrame([{"timestamp": t[-10], "namespace": "ops", "workload": "leaky",
                         "pod": "leaky-1", "container": "app", "kind": "termination",
                         "reason": "OOMKilled", "exit_code": 137, "oom_killed": True,
                         "message": "", "source": "test"}], columns=model.EVENT_COLUMNS)
    oom["timestamp"] = pd.to_datetime(oom["timestamp"], utc=True)
    return usage, pd.concat([events, oom], ignore_index=True)


def imported_sample(root: Path, files: int) -> Path:
    """A store at ``root`` holding the first ``files`` VMs of the bundled sample, imported
    through the CLI."""
    from tests.conftest import ROOT, run_cli

    paths = sorted(str(p) for p in (ROOT / "data" / "sample").glob("*.csv.gz"))[:files]
    r = run_cli("import", *paths, "--format", "bitbrains", "--store", str(root))
    assert r.code == 0, r.stderr
    return root
