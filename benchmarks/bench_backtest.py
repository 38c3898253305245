"""Two benchmarks of the backtest (docs/architecture.md, "Benchmarks").

Rightsizing quality: backtest every strategy on a Bitbrains month — train on each VM's first
14 days, recommend once, score the next 7 — side by side with the published anchors (VPA,
KRR simple) computed in the same run, plus the VMs' own provisioning.  The trace is not
bundled (500 VMs, ~70 MB); point this at the GWA-T-12 Rnd files:

    python benchmarks/bench_backtest.py TRACE_DIR_OR_FILES... [--strategy NAME...]

Speed and memory at fleet scale (``--fleet``): the synthetic fleet week of bench_fleet.py
(10,000 containers x 7 days x 5 min, 20.2 M samples) imported into a store of its own, then
``backtest --store`` (KRR, and every strategy) and ``backtest --from`` the Parquet file, each
as its own process, against a plain-pandas backtest of the same split measured in the same
run (read_parquet, per-container whole-day split, p95 CPU / max memory x 1.15 from the
training days, over-request share, slack and OOM containers on the test days).  Figures:
wall, CPU (user + sys) and peak RSS from ``wait4`` (benchmarks/runner.py); target: every
command <= 2 GiB peak RSS.

    python benchmarks/bench_backtest.py --fleet [--containers 10000] [--days 7] [--step 300]
        [--train-days 5] [--test-days 2] [--quick] [--keep]
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


def quality() -> None:
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


def pandas_backtest(path: str, train_days: int, test_days: int) -> str:
    """The baseline, in its own process: what a user would write with pandas."""
    import pandas as pd

    keys = ["namespace", "workload", "container"]
    df = pd.read_parquet(path, columns=[*keys, "timestamp", "cpu_cores",
                                        "memory_working_set_bytes"])
    day = df["timestamp"].dt.floor("D")
    rel = (day - day.groupby([df[k] for k in keys], observed=True).transform("min")).dt.days
    train = df[rel < train_days]
    test = df[(rel >= train_days) & (rel < train_days + test_days)]
    g = train.groupby(keys, observed=True)
    size = pd.DataFrame({"req": g["cpu_cores"].quantile(0.95),
                         "lim": g["memory_working_set_bytes"].max() * 1.15})
    t = test.join(size, on=keys)
    over = float((t["cpu_cores"] > t["req"]).mean())
    slack = float((t["req"] - t["cpu_cores"]).clip(lower=0).sum() / t["req"].sum())
    oom = t.loc[t["memory_working_set_bytes"] > t["lim"], keys].drop_duplicates()
    return (f"{len(size)} containers, {len(df)} samples: {size['req'].sum():.1f} cores, "
            f"cpu_over {over * 100:.2f} %, cpu_slack {slack * 100:.1f} %, "
            f"{size['lim'].sum() / 2**30:.0f} GiB, {len(oom)} containers above the limit")


def fleet(a: argparse.Namespace) -> None:
    import json
    import shutil
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fleet_data import OUT, Fleet, ensure
    from runner import GIB, Row, load_average, parent_rss_mib, quotatune, run_checked, table

    fl = Fleet(300 if a.quick else a.containers, a.days, a.step)
    parquet = ensure(fl, "parquet")
    work = OUT / f"backtest-run-c{fl.containers}-d{fl.days}-s{fl.step}"
    store = work / "store"
    if not a.keep or not (store / "usage").is_dir():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        run_checked("import (setup)", quotatune("import", str(parquet), "--format",
                                                "canonical", "--store", str(store)))
    split = ["--train-days", str(a.train_days), "--test-days", str(a.test_days), "-o", "json"]
    print(f"fleet: {fl.containers:,} containers x {fl.days} d x {fl.step} s = {fl.rows:,} "
          f"samples; train {a.train_days} d, test {a.test_days} d; load average "
          f"{load_average()}", flush=True)
    try:
        base = run_checked("pandas backtest", [sys.executable, __file__, "--pandas-baseline",
                                               str(parquet), str(a.train_days),
                                               str(a.test_days)])
        krr = run_checked("backtest --store krr", quotatune(
            "backtest", "--store", str(store), "--strategy", "krr", *split))
        every = run_checked("backtest --store (every strategy)", quotatune(
            "backtest", "--store", str(store), *split))
        files = run_checked("backtest --from krr", quotatune(
            "backtest", "--from", str(parquet), "--format", "canonical", "--strategy", "krr",
            *split))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {load_average()}")
    print(table([
        Row("pandas backtest (p95 / max x 1.15)", base),
        Row("quotatune backtest --store --strategy krr", krr, base, None, 2 * GIB),
        Row("quotatune backtest --store (every strategy)", every, base, None, 2 * GIB),
        Row("quotatune backtest --from PARQUET --strategy krr", files, base, None, 2 * GIB),
    ]))
    print(f"(a child's peak RSS may include up to this parent's {parent_rss_mib():.0f} MiB)")
    k = json.loads(krr.stdout)[0]
    print(f"answers: pandas {base.stdout.strip()}\n         quotatune krr: {k['containers']} "
          f"containers: {k['cores']:.1f} cores, cpu_over {k['cpu_over'] * 100:.2f} %, "
          f"cpu_slack {k['cpu_slack'] * 100:.1f} %, {k['mem_gib']:.0f} GiB, "
          f"{k['mem_oom_vms']} containers above the limit")
    if json.loads(files.stdout) != json.loads(krr.stdout):
        print("note: --from and --store differ in the last digits (float sums in another "
              "order)" if json.loads(files.stdout)[0]["cores"] == k["cores"] else
              "WARNING: --from and --store give different answers")


def main() -> None:
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "--pandas-baseline":
        print(pandas_backtest(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    elif "--fleet" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--fleet", action="store_true")
        ap.add_argument("--containers", type=int, default=10_000)
        ap.add_argument("--days", type=int, default=7)
        ap.add_argument("--step", type=int, default=300)
        ap.add_argument("--train-days", type=int, default=5)
        ap.add_argument("--test-days", type=int, default=2)
        ap.add_argument("--quick", action="store_true", help="300 containers")
        ap.add_argument("--keep", action="store_true",
                        help="keep (and reuse) the store under benchmarks/out/")
        fleet(ap.parse_args())
    else:
        quality()


if __name__ == "__main__":
    main()
