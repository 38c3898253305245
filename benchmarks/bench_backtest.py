"""Rightsizing quality (docs/architecture.md, "Benchmarks"): backtest every strategy on a
Bitbrains month — train on each VM's first 14 days, recommend once, score the next 7 — side
by side with the published anchors (VPA, KRR simple) computed in the same run, plus the
VMs' own provisioning.

    python benchmarks/bench_backtest.py TRACE_DIR_OR_FILES... [--strategy NAME...]

The trace is not bundled (500 VMs, ~70 MB); point this at the GWA-T-12 Rnd files.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# The published anchors (docs/architecture.md, "Benchmarks"), August 2013:
# cores, cpu_over, GiB, OOM VMs
PUBLISHED = {
    "vpa": (479, 0.034, 1859, 138),
    "krr": (452, 0.063, 2407, 61),
    "current": (1448, None, 4240, 6),
}


def _read(path: str):  # type: ignore[no-untyped-def]
    from quotatune.sources.files.tables import read_bitbrains

    return read_bitbrains(Path(path)).usage


def main() -> None:
    import pandas as pd

    from quotatune.analysis.backtest import backtest
    from quotatune.analysis.recommend import DEFAULT_STRATEGY, STRATEGIES

    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--strategy", nargs="+", default=list(STRATEGIES))
    ap.add_argument("--train-days", type=float, default=14.0)
    ap.add_argument("--test-days", type=float, default=7.0)
    a = ap.parse_args()
    files = sorted(str(f) for p in a.paths
                   for f in (p.glob("*.csv.gz") if p.is_dir() else [p]))
    t0 = time.perf_counter()
    with ProcessPoolExecutor() as ex:
        usage = pd.concat(list(ex.map(_read, files)), ignore_index=True)
    t1 = time.perf_counter()
    scores = backtest(usage, a.strategy, train_days=a.train_days, test_days=a.test_days)
    t2 = time.perf_counter()
    print(f"{len(files)} VMs, {len(usage):,} samples (read {t1 - t0:.1f} s, backtest "
          f"{t2 - t1:.1f} s); train {a.train_days:g} days, test {a.test_days:g} days")
    print(f"{'strategy':12s} {'cores':>8s} {'cpu_slack':>9s} {'cpu_over':>8s} {'GiB':>8s} "
          f"{'mem_slack':>9s} {'oom_vms':>7s}   published (cores / over / GiB / OOM)")
    for s in scores:
        pub = PUBLISHED.get(s.strategy)
        ref = "" if pub is None else "   " + " / ".join(
            "-" if v is None else (f"{v * 100:.1f} %" if isinstance(v, float) else f"{v:,}")
            for v in pub)
        mark = " (default)" if s.strategy == DEFAULT_STRATEGY else ""
        print(f"{s.strategy:12s} {s.cores:8.1f} {s.cpu_slack * 100:8.1f}% {s.cpu_over * 100:7.2f}%"
              f" {s.mem_gib:8.1f} {s.mem_slack * 100:8.1f}% {s.mem_oom_vms:7d}{ref}{mark}")
    by = {s.strategy: s for s in scores}
    if DEFAULT_STRATEGY in by and "krr" in by:
        d, k = by[DEFAULT_STRATEGY], by["krr"]
        ok = (d.mem_gib <= k.mem_gib and d.mem_oom_vms < k.mem_oom_vms and d.cpu_over <= 0.05
              and d.cores <= k.cores)
        print(f"default vs KRR: GiB {d.mem_gib:.0f} <= {k.mem_gib:.0f}, OOM VMs "
              f"{d.mem_oom_vms} < {k.mem_oom_vms}, cpu_over {d.cpu_over * 100:.2f} % <= 5 %, "
              f"cores {d.cores:.0f} <= {k.cores:.0f}: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
