"""Commands on a fleet of many short-lived pods (docs/architecture.md, "Benchmarks"; issue 13:
peak memory follows the number of containers, not of samples, nor of pods).

A CronJob starts a pod every few minutes, so a week of 200 CronJobs that run every 5 minutes
is 403,200 pods of 200 containers: 3 samples of each pod (one a minute while it runs),
1.2 M samples in all, in one canonical Parquet file (deterministic, cached under
``benchmarks/out/``).  The file is imported into a store once; then, each against the plain
pandas script on the same file in the same run (``read_parquet`` + per-container
``groupby().quantile(0.95)`` / ``.max()``):

- ``recommend --store`` with the default strategy and with ``krr`` and ``vpa``, which size
  from per-pod facts (KRR: the highest pod's p95; VPA: one peak per pod and day);
- ``recommend --from`` the file;
- ``report``, ``diagnose`` and ``plan`` of the store (report and diagnose ``--since all``: the
  month is dated 2026-11, and the default ``--since 14d`` on a later clock reads less of it,
  or none).

Target: every command <= 2 GiB peak RSS.  Each command runs ``--repeat`` times, interleaved,
and its median run is reported; a command that fails exits non-zero.

    python benchmarks/bench_pods.py [--jobs 200] [--every 300] [--days 7] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_data import OUT  # noqa: E402
from runner import (  # noqa: E402
    GIB,
    Job,
    Row,
    load_average,
    pandas_baseline,
    parent_rss_mib,
    quotatune,
    run_checked,
    run_interleaved,
    table,
)

RUN_S = 3  # each pod runs 3 minutes: one sample a minute
START = "2026-11-02T00:00:00"


def cron_file(jobs: int, every: int, days: int) -> Path:
    """The CronJobs' samples, written once per parameters by a child process: a child starts
    with its parent's peak RSS, which writing the file here would raise for every command."""
    path = OUT / f"cron-v1-j{jobs}-e{every}-d{days}.parquet"
    if not path.exists():
        subprocess.run([sys.executable, __file__, "--write", str(path), str(jobs), str(every),
                        str(days)], check=True)
    return path


def write(path: Path, jobs: int, every: int, days: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(29)
    starts = days * 86_400 // every
    job = np.repeat(np.arange(jobs), starts * RUN_S)
    run = np.tile(np.repeat(np.arange(starts), RUN_S), jobs)
    minute = np.tile(np.arange(RUN_S), jobs * starts)
    t0 = pd.Timestamp(START, tz="UTC").value
    # Jobs start a second apart, so that not every pod of the fleet shares one timestamp.
    ts = t0 + (run * every + minute * 60 + job).astype("int64") * 10**9
    names = np.char.add("cron", job.astype(str))
    # Job pods are named <cronjob>-<scheduled minute>-<5 characters>, as the controller does.
    pods = np.char.add(np.char.add(names, "-"), (29_000_000 + run * every // 60).astype(str))
    pods = np.char.add(pods, "-x2k9q")
    usage = pd.DataFrame({
        "timestamp": pd.to_datetime(ts, utc=True),
        "namespace": pd.Categorical(np.char.add("batch", (job % 10).astype(str))),
        "workload": pd.Categorical(names),
        "pod": pd.Categorical(pods),
        "container": pd.Categorical(["job"] * len(job)),
        "cpu_cores": rng.gamma(2.0, 0.1 + 0.002 * (job % 50), len(job)),
        "memory_working_set_bytes": rng.integers(100, 400, len(job)).astype("float64") * 2**20,
        "cpu_request_cores": np.full(len(job), 0.25),
        "memory_request_bytes": np.full(len(job), 256.0 * 2**20),
        "memory_limit_bytes": np.full(len(job), 512.0 * 2**20),
    })
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    usage.to_parquet(tmp, index=False, row_group_size=1_000_000)
    tmp.rename(path)


def main() -> None:
    if sys.argv[1:2] == ["--write"]:
        write(Path(sys.argv[2]), *map(int, sys.argv[3:6]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--every", type=int, default=300, help="seconds between a job's runs")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each command, interleaved; the median run is reported")
    ap.add_argument("--quick", action="store_true", help="20 CronJobs: runs in a minute")
    a = ap.parse_args()
    if a.quick:
        a.jobs = 20
    path = cron_file(a.jobs, a.every, a.days)
    pods = a.jobs * (a.days * 86_400 // a.every)
    print(f"{a.jobs} CronJobs x {a.days} d, a pod every {a.every} s: {pods:,} pods, "
          f"{pods * RUN_S:,} samples ({path.stat().st_size / 2**20:,.0f} MiB Parquet)")
    print(f"load average before: {load_average()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pods-"))
    store = str(tmp / "store")
    try:
        imp = run_checked("import", quotatune("import", str(path), "--store", store))
        got = run_interleaved([
            Job("baseline", pandas_baseline("groupby", path)),
            Job("recommend", quotatune("recommend", "--store", store, "-o", "json")),
            Job("recommend krr", quotatune("recommend", "--store", store, "--strategy", "krr",
                                           "-o", "json")),
            Job("recommend vpa", quotatune("recommend", "--store", store, "--strategy", "vpa",
                                           "-o", "json")),
            Job("recommend --from", quotatune("recommend", "--from", str(path), "-o", "json")),
            Job("report", quotatune("report", "--store", store, "--since", "all", "--out",
                                    str(tmp / "report"))),
            Job("diagnose", quotatune("diagnose", "--store", store, "--since", "all", "-o",
                                      "json")),
            Job("plan", quotatune("plan", "--store", store)),
        ], a.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = got.pop("baseline")
    print(f"load average after: {load_average()}; baseline: {base.stdout.strip()}")
    print(table([Row("pandas read_parquet + groupby p95/max", base),
                 Row("quotatune import", imp, base, None, 2 * GIB),
                 *(Row(f"quotatune {label}", m, base, None, 2 * GIB)
                   for label, m in got.items())]))
    print(f"(median of {a.repeat} interleaved runs each, peak RSS the highest of them; a "
          f"child's peak RSS may include up to this parent's {parent_rss_mib():.0f} MiB)")
    for label in ("recommend", "recommend krr", "recommend vpa", "recommend --from"):
        n = len(json.loads(got[label].stdout))
        if n != a.jobs:
            sys.exit(f"{label}: {n} recommendations for {a.jobs} containers")
    print(f"answers: {a.jobs} recommendations from each recommend")


if __name__ == "__main__":
    main()
