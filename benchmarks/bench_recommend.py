"""Analyzer speed (docs/architecture.md, "Benchmarks"): ``recommend`` over a history store of
10,000 containers x 7 days x 1-minute samples (~100 M samples), end to end from the store,
against pandas ``groupby().quantile()`` on the same samples, both measured in this run.

Targets: <= 10 s wall, <= 2 GiB peak RSS, >= 5x faster than the pandas baseline.  Each
measurement runs in its own subprocess so that its peak RSS (``resource.getrusage``) is its
own.  The store is built once under ``--root`` (default: a temporary directory) and reused
with ``--keep``.

    python benchmarks/bench_recommend.py [--containers 10000] [--days 7] [--root DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEP_S = 60


def build(root: Path, containers: int, days: int) -> None:
    """Write the store day by day, the way ``quotatune import`` does (with rollups)."""
    import numpy as np
    import pandas as pd

    from quotatune.model.collected import Collected
    from quotatune.rollup.sketch import ROLLUP_VERSION, daily_rollup
    from quotatune.store.history import Store

    store = Store(root, rollup=daily_rollup, rollup_version=ROLLUP_VERSION)
    rng = np.random.default_rng(42)
    per_day = 86_400 // STEP_S
    base_cpu = rng.lognormal(-2.0, 1.0, containers)
    base_mem = rng.lognormal(np.log(400 * 2**20), 0.8, containers)
    c = np.repeat(np.arange(containers), per_day)
    names = pd.Categorical.from_codes(c, [f"w{i:05d}" for i in range(containers)])
    pods = pd.Categorical.from_codes(c, [f"w{i:05d}-0" for i in range(containers)])
    nss = pd.Categorical.from_codes(c % 50, [f"ns{i:02d}" for i in range(50)])
    start = pd.Timestamp("2026-11-01T00:00:00Z")
    for d in range(days):
        t0 = time.perf_counter()
        minute = np.tile(np.arange(per_day), containers)
        ts = start + pd.to_timedelta(d * 86_400 + minute * STEP_S, unit="s")
        daily = 1 + 0.3 * np.sin(2 * np.pi * minute / per_day)
        usage = pd.DataFrame({
            "timestamp": ts,
            "namespace": nss, "workload": names, "pod": pods,
            "container": pd.Categorical.from_codes(np.zeros(len(c), "int8"), ["app"]),
            "cpu_cores": base_cpu[c] * daily * rng.gamma(2.0, 0.5, len(c)),
            "memory_working_set_bytes": base_mem[c] * (daily + rng.normal(0, 0.02, len(c))
                                                       ).clip(0.1),
        })
        store.append(Collected(usage=usage))
        print(f"  built day {d + 1}/{days}: {len(usage):,} samples in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def run_recommend(root: str) -> dict[str, float]:
    from quotatune.analysis.recommend import recommend_from_rollups, rollup_columns
    from quotatune.rollup.sketch import ROLLUP_VERSION, daily_rollup
    from quotatune.store.history import Store

    t0 = time.perf_counter()
    store = Store(Path(root), rollup=daily_rollup, rollup_version=ROLLUP_VERSION)
    rollups = store.read_rollups(columns=rollup_columns())
    assert rollups is not None
    t1 = time.perf_counter()
    recs = recommend_from_rollups(rollups, store.read_specs(), store.read_events())
    t2 = time.perf_counter()
    return {"wall_s": t2 - t0, "read_s": t1 - t0, "compute_s": t2 - t1,
            "containers": len(recs), "samples": float(sum(r.samples for r in recs))}


def run_pandas(root: str) -> dict[str, float]:
    """The baseline at its best: only the needed columns, categorical keys, one groupby."""
    import pyarrow.dataset as ds

    t0 = time.perf_counter()
    files = sorted(str(p) for p in Path(root, "usage").glob("day=*/data-*.parquet"))
    cols = ["namespace", "workload", "container", "cpu_cores", "memory_working_set_bytes"]
    df = ds.dataset(files, format="parquet").to_table(columns=cols).to_pandas()
    t1 = time.perf_counter()
    q = df.groupby(["namespace", "workload", "container"], observed=True)[
        ["cpu_cores", "memory_working_set_bytes"]].quantile(0.95)
    t2 = time.perf_counter()
    return {"wall_s": t2 - t0, "read_s": t1 - t0, "compute_s": t2 - t1,
            "containers": len(q), "samples": float(len(df))}


def measure(kind: str, root: Path, *extra: str) -> dict[str, float]:
    """Run one step in a fresh interpreter and return its figures with its peak RSS.  The
    parent stays small (no pandas): on Linux a child starts with its parent's peak RSS."""
    out = subprocess.run([sys.executable, __file__, "--measure", kind, "--root", str(root),
                          *extra], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{kind} failed:\n{out.stderr}")
    sys.stderr.write(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--root", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep (and reuse) the store")
    ap.add_argument("--measure", choices=["build", "recommend", "pandas"])
    a = ap.parse_args()
    if a.measure == "build":
        build(a.root, a.containers, a.days)
        print(json.dumps({}))
        return
    if a.measure:
        fn = run_recommend if a.measure == "recommend" else run_pandas
        result = fn(str(a.root))
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    root = a.root or Path(tempfile.mkdtemp(prefix="qt-bench-"))
    try:
        if not (root / "usage").is_dir():
            print(f"building {a.containers:,} containers x {a.days} days x 1-minute samples "
                  f"in {root}", flush=True)
            measure("build", root, "--containers", str(a.containers), "--days", str(a.days))
        rec = measure("recommend", root)
        base = measure("pandas", root)
        for name, r in (("recommend (rollups)", rec), ("pandas groupby().quantile()", base)):
            print(f"{name:30s} wall {r['wall_s']:6.2f} s (read {r['read_s']:.2f} s, compute "
                  f"{r['compute_s']:.2f} s)  peak RSS {r['peak_rss_mib']:7.0f} MiB  "
                  f"{int(r['containers']):,} containers  {int(r['samples']):,} samples")
        speedup = base["wall_s"] / rec["wall_s"]
        ok = rec["wall_s"] <= 10 and rec["peak_rss_mib"] <= 2048 and speedup >= 5
        print(f"speed-up {speedup:.1f}x; targets <= 10 s, <= 2048 MiB, >= 5x: "
              f"{'met' if ok else 'NOT met'}")
    finally:
        if not a.keep and a.root is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
