"""Rightsizing quality across many splits (docs/architecture.md): rolling-origin folds (14+7
and 7+7 days, sliding by a day) for the default strategy and the published anchors, with the worst,
median and best fold per strategy and metric, the goal checked on every fold, and the single
14+7 split of ``bench_backtest`` beside it.  Baselines (KRR, VPA) run in the same process on
the same folds.

    python benchmarks/bench_folds.py [TRACE_DIR_OR_FILES...] [--strategy NAME...]
        [--shape TRAIN+TEST ...] [--select-until YYYY-MM-DD]

Default trace: the bundled sample.  ``--select-until`` splits the folds into those whose
origin is at or before that day (where parameters were chosen) and the later ones (where
they were confirmed), and reports both.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench_backtest import _read

SHOWN = ("cores", "cpu_over", "mem_gib", "mem_oom_vms", "oom_vs_krr", "gib_vs_krr",
         "cores_vs_krr", "cores_vs_vpa")
PCT = {"cpu_over"}


def _fmt(metric: str, v: float) -> str:
    if metric in PCT:
        return f"{v * 100:.2f} %"
    if metric == "mem_oom_vms":
        return f"{v:.0f}"
    return f"{v:,.3f}" if "_vs_" in metric else f"{v:,.1f}"


def _goal(table, default: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The quality goal of docs/architecture.md ("Benchmarks"), checked fold by fold."""
    d = table[table["strategy"] == default]
    if d.empty or "oom_vs_krr" not in d.columns:
        return []
    checks = {
        "OOM VMs <= 0.7x KRR": d["oom_vs_krr"] <= 0.7,
        "GiB <= KRR": d["gib_vs_krr"] <= 1.0,
        "cpu_over <= 5 %": d["cpu_over"] <= 0.05,
        "cores <= KRR": d["cores_vs_krr"] <= 1.0,
        "stretch: OOM VMs <= 0.5x KRR": d["oom_vs_krr"] <= 0.5,
    }
    if "cores_vs_vpa" in d.columns:
        checks["stretch: cores <= VPA"] = d["cores_vs_vpa"] <= 1.0
    return [f"  {name}: {int(ok.sum())} of {len(ok)} folds" for name, ok in checks.items()]


def _report(table, title: str, default: str) -> None:  # type: ignore[no-untyped-def]
    from quotatune.analysis.folds import fold_summary

    s = fold_summary(table)
    s = s[s["metric"].isin(SHOWN)]
    print(f"\n{title}")
    print(f"{'shape':5s} {'strategy':9s} {'metric':13s} {'worst':>10s} {'median':>10s} "
          f"{'best':>10s} {'folds':>5s}")
    for r in s.itertuples(index=False):
        print(f"{r.shape:5s} {r.strategy:9s} {r.metric:13s} {_fmt(r.metric, r.worst):>10s} "
              f"{_fmt(r.metric, r.median):>10s} {_fmt(r.metric, r.best):>10s} {r.folds:5d}")
    for shape, part in table.groupby("shape", sort=False):
        print(f"goal for {default}, {shape} folds:")
        print("\n".join(_goal(part, default)))


def main() -> None:
    import pandas as pd

    from quotatune.analysis.backtest import backtest
    from quotatune.analysis.folds import rolling_folds
    from quotatune.analysis.recommend import DEFAULT_STRATEGY

    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="*", type=Path, default=[Path("data/sample")])
    ap.add_argument("--strategy", nargs="+", default=[DEFAULT_STRATEGY, "krr", "vpa"])
    ap.add_argument("--shape", nargs="+", default=["14+7", "7+7"])
    ap.add_argument("--select-until", default=None)
    ap.add_argument("--table", action="store_true", help="print every fold's row")
    a = ap.parse_args()
    shapes = [tuple(int(x) for x in s.split("+")) for s in a.shape]
    files = sorted(str(f) for p in a.paths
                   for f in (p.glob("*.csv.gz") if p.is_dir() else [p]))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as ex:
        usage = pd.concat(list(ex.map(_read, files)), ignore_index=True)
    t1, c1 = time.perf_counter(), time.process_time()
    table = rolling_folds(usage, a.strategy, shapes=shapes)  # type: ignore[arg-type]
    t2, c2 = time.perf_counter(), time.process_time()
    single = backtest(usage, a.strategy)
    t3, c3 = time.perf_counter(), time.process_time()
    nfolds = table[["shape", "origin"]].drop_duplicates().shape[0]
    # Baseline: the single-split backtest, timed in this run; one backtest per fold would
    # cost about nfolds times that.
    print(f"{len(files)} files, {len(usage):,} samples (read {t1 - t0:.1f} s); "
          f"{nfolds} folds x {len(a.strategy)} strategies: {t2 - t1:.1f} s wall, "
          f"{c2 - c1:.1f} s CPU; baseline, one 14+7 split by backtest(): {t3 - t2:.1f} s wall, "
          f"{c3 - c2:.1f} s CPU, so one backtest per fold ~{nfolds * (t3 - t2):.0f} s wall")
    if a.table:
        cols = ["shape", "origin", "strategy", "cores", "cpu_over", "mem_gib", "mem_oom_vms"]
        print(table[cols].to_string(index=False))
    _report(table, "all folds", DEFAULT_STRATEGY)
    if a.select_until:
        cut = pd.Timestamp(a.select_until, tz="UTC")
        _report(table[table["origin"] <= cut], f"selection folds (origin <= {a.select_until})",
                DEFAULT_STRATEGY)
        _report(table[table["origin"] > cut], f"confirmation folds (origin > {a.select_until})",
                DEFAULT_STRATEGY)
    print("\nsingle split (each container's first 14 days, then 7):")
    print(f"{'strategy':10s} {'cores':>8s} {'cpu_over':>8s} {'GiB':>8s} {'oom_vms':>7s}")
    for s in single:
        print(f"{s.strategy:10s} {s.cores:8.1f} {s.cpu_over * 100:7.2f}% {s.mem_gib:8.1f} "
              f"{s.mem_oom_vms:7d}")


if __name__ == "__main__":
    main()
