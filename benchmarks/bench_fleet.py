"""Every command at fleet scale, from the store (docs/architecture.md, "Benchmarks"; issue
13): a week of 10,000 containers at 5-minute samples (20.2 M samples) in one canonical
Parquet file.

Baseline, in the same run and as its own process: pandas ``read_parquet`` + per-container
p95 CPU and max memory.  Then, each as its own process as a user runs them:
``quotatune import`` into a fresh store, ``report --store``, ``diagnose --store``,
``plan --store``, ``recommend NS/APP --store`` for one workload and one refresh of
``serve --store`` (``serve_refresh.py``); with ``--from-files``
also ``report --from`` and ``diagnose --from`` the Parquet file.  report and diagnose run with
``--since all``: the week is dated 2026-11, and the default ``--since 14d`` on a later clock
would leave diagnose nothing to read.  Targets (wall time as a
multiple of the baseline's): import <= 3x, report <= 3x, diagnose <= 2x, recommend NS/APP
<= 0.25x; every command <= 2 GiB peak RSS.  Figures: wall, CPU (user + sys; the machine may be
shared) and peak RSS from ``wait4``; each of the median of ``--repeat`` rounds (default 3),
every round importing into an empty store.  A missed target is reported, not an error; a
command that fails exits non-zero.

    python benchmarks/bench_fleet.py [--containers 10000] [--days 7] [--step 300] [--quick]
                                     [--repeat 3] [--keep] [--from-files] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_data import OUT, Fleet, ensure  # noqa: E402
from runner import (  # noqa: E402
    GIB,
    Job,
    Row,
    load_average,
    pandas_baseline,
    parent_rss_mib,
    quotatune,
    run_interleaved,
    table,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--containers", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--step", type=int, default=300, help="seconds between samples")
    ap.add_argument("--quick", action="store_true", help="300 containers: runs in a minute")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of every command, interleaved; the median run is reported")
    ap.add_argument("--keep", action="store_true",
                    help="keep the store and reports under benchmarks/out/ afterwards")
    ap.add_argument("--from-files", action="store_true",
                    help="also time report --from and diagnose --from the file")
    ap.add_argument("--work", type=Path, default=None,
                    help="store and reports directory (default: under benchmarks/out/)")
    a = ap.parse_args()
    if a.quick:
        a.containers = 300
    fleet = Fleet(a.containers, a.days, a.step)
    parquet = ensure(fleet, "parquet")
    target = fleet.target()
    work = a.work or OUT / f"fleet-run-c{fleet.containers}-d{fleet.days}-s{fleet.step}"
    store, reports = work / "store", work / "reports"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    print(f"fleet: {fleet.containers:,} containers x {a.days} d x {a.step} s = "
          f"{fleet.rows:,} samples ({parquet.stat().st_size / 2**20:,.0f} MiB Parquet); "
          f"one-workload target {target}")
    print(f"load average before: {load_average()}", flush=True)
    st = ["--store", str(store)]
    every = ["--since", "all"]
    files = ["--from", str(parquet), *every]

    def fresh_store() -> None:  # each round imports into an empty store, then reads it
        shutil.rmtree(store, ignore_errors=True)

    jobs = [
        Job("pandas read_parquet + groupby", pandas_baseline("groupby", parquet)),
        Job("import", quotatune("import", str(parquet), "--format", "canonical", *st),
            prepare=fresh_store),
        Job("report", quotatune("report", *st, *every, "--out", str(reports))),
        Job("diagnose", quotatune("diagnose", *st, *every, "-o", "json")),
        Job("plan", quotatune("plan", *st, "-o", "json")),
        Job(f"recommend {target}", quotatune("recommend", target, *st, "-o", "json")),
        Job("serve refresh", [sys.executable, str(Path(__file__).with_name("serve_refresh.py")),
                              str(store)]),
    ]
    if a.from_files:
        jobs += [Job("report --from", quotatune("report", *files, "--out", str(reports))),
                 Job("diagnose --from", quotatune("diagnose", *files, "-o", "json"))]
    try:
        got = run_interleaved(jobs, a.repeat)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    base, imp, rep = got["pandas read_parquet + groupby"], got["import"], got["report"]
    diag, plan, one = got["diagnose"], got["plan"], got[f"recommend {target}"]
    serve = got["serve refresh"]
    rep_f, diag_f = got.get("report --from"), got.get("diagnose --from")

    print(f"load average after: {load_average()}; baseline: {base.stdout.strip()}")
    print(table([
        Row("pandas read_parquet + groupby p95/max", base),
        Row("quotatune import PARQUET", imp, base, 3.0, 2 * GIB),
        Row("quotatune report --store", rep, base, 3.0, 2 * GIB),
        Row("quotatune diagnose --store", diag, base, 2.0, 2 * GIB),
        Row("quotatune plan --store", plan, base, None, 2 * GIB),
        Row(f"quotatune recommend {target} --store", one, base, 0.25, 2 * GIB),
        Row("quotatune serve --store, one refresh", serve, base, None, 2 * GIB),
        *([Row("quotatune report --from PARQUET", rep_f, base, None, 2 * GIB),
           Row("quotatune diagnose --from PARQUET", diag_f, base, None, 2 * GIB)]
          if rep_f is not None and diag_f is not None else []),
    ]))
    print(f"(median of {a.repeat} interleaved rounds each, peak RSS the highest of them; a "
          f"child's peak RSS may include up to this parent's {parent_rss_mib():.0f} MiB)")
    recs = json.loads(one.stdout)
    findings = json.loads(diag.stdout)
    print(f"answers: {len(recs)} recommendation(s) for {target}, {len(findings)} finding(s); "
          f"import said: {imp.stdout.strip()}")
    if not recs or any(f"{r['namespace']}/{r['workload']}" != target for r in recs):
        sys.exit(f"recommend {target}: expected that workload's containers only, got "
                 f"{[(r['namespace'], r['workload']) for r in recs][:5]}")


if __name__ == "__main__":
    main()
