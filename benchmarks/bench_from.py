"""Every path at fleet scale, from files (docs/architecture.md, "Benchmarks"; issue 13):

1. ``quotatune recommend --from FILE -o json`` on a canonical Parquet file of 5,000 containers
   x 7 days x 1-minute samples (50.4 M samples), against a plain pandas script on the same
   file (``read_parquet`` + per-container ``groupby().quantile(0.95)`` of CPU, ``.max()`` of
   memory).  Targets: >= 5x faster than the baseline (<= 0.2x its wall time), <= 2 GiB peak RSS.
2. ``quotatune import`` of a canonical CSV of ~2 M rows (1,000 containers x 7 days x 5 minutes)
   into a fresh store, against ``pandas.read_csv`` of the same file.  Target: <= 2x.
3. ``quotatune recommend --from`` that CSV, against ``read_csv`` + the same groupby (no
   target: the figure a user pointing quotatune at a CSV export sees).

Beside 1 and 2, a floor with no target: a process that makes the CLI's imports and decodes
the file as quotatune's readers do, and nothing else (``decode_floor.py``): what is left of
a target once it is paid is what the analysis and the store may take.

Every measurement is a whole process (wall, CPU = user + sys, peak RSS from ``wait4``), so
the figures are what a user sees and survive any re-layout of the package.  Each command runs
``--repeat`` times (default 3), interleaved with the others, and its median run is reported:
on a shared machine single runs drift by a third, enough to flip a verdict either way.  The data is
synthetic and deterministic (``fleet_data.py``), cached under ``benchmarks/out/``.  A missed
target is reported, not an error; a command that fails exits non-zero.

    python benchmarks/bench_from.py [--containers 5000] [--days 7] [--step 60]
                                    [--csv-containers 1000] [--csv-step 300] [--repeat 3]
                                    [--quick]
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


def decode_floor(mode: str, path: Path) -> list[str]:
    """What a quotatune process spends before any analysis (see decode_floor.py)."""
    return [sys.executable, str(Path(__file__).with_name("decode_floor.py")), mode, str(path)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--containers", type=int, default=5000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--step", type=int, default=60, help="seconds between samples")
    ap.add_argument("--csv-containers", type=int, default=1000)
    ap.add_argument("--csv-step", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each command, interleaved; the median run is reported")
    ap.add_argument("--quick", action="store_true",
                    help="a small scale (300 containers, 100 in the CSV) that runs in a minute")
    a = ap.parse_args()
    if a.quick:
        a.containers, a.csv_containers = 300, 100
    pq_fleet = Fleet(a.containers, a.days, a.step)
    csv_fleet = Fleet(a.csv_containers, a.days, a.csv_step)
    parquet = ensure(pq_fleet, "parquet")
    csv = ensure(csv_fleet, "csv")

    print(f"recommend --from: {pq_fleet.containers:,} containers x {a.days} d x {a.step} s = "
          f"{pq_fleet.rows:,} samples ({parquet.stat().st_size / 2**20:,.0f} MiB Parquet); "
          f"CSV import: {csv_fleet.rows:,} rows ({csv.stat().st_size / 2**20:,.0f} MiB)")
    print(f"load average before: {load_average()}", flush=True)

    store = OUT / "store-bench-from"

    def fresh_store() -> None:
        shutil.rmtree(store, ignore_errors=True)

    try:
        got = run_interleaved([
            Job("pandas read_parquet + groupby", pandas_baseline("groupby", parquet)),
            Job("recommend --from", quotatune("recommend", "--from", str(parquet), "-o", "json")),
            Job("parquet floor", decode_floor("parquet", parquet)),
            Job("pandas.read_csv", pandas_baseline("read_csv", csv)),
            Job("import CSV", quotatune("import", str(csv), "--format", "canonical",
                                        "--store", str(store)), prepare=fresh_store),
            Job("csv floor", decode_floor("csv", csv)),
            Job("pandas read_csv + groupby", pandas_baseline("csv_groupby", csv)),
            Job("recommend --from CSV", quotatune("recommend", "--from", str(csv),
                                                  "-o", "json")),
        ], a.repeat)
    finally:
        fresh_store()
    base, rec = got["pandas read_parquet + groupby"], got["recommend --from"]
    read_csv, imp = got["pandas.read_csv"], got["import CSV"]
    csv_base, csv_rec = got["pandas read_csv + groupby"], got["recommend --from CSV"]

    print(f"load average after: {load_average()}; baseline: {base.stdout.strip()}")
    print(table([
        Row("pandas read_parquet + groupby p95/max", base),
        Row("quotatune recommend --from PARQUET -o json", rec, base, 0.2, 2 * GIB),
        Row("  floor: CLI imports + pyarrow decode only", got["parquet floor"], base),
        Row("pandas.read_csv", read_csv),
        Row("quotatune import CSV", imp, read_csv, 2.0),
        Row("  floor: CLI imports + pyarrow parse only", got["csv floor"], read_csv),
        Row("pandas read_csv + groupby p95/max", csv_base),
        Row("quotatune recommend --from CSV -o json", csv_rec, csv_base, None, 2 * GIB),
    ]))
    print(f"(median of {a.repeat} interleaved runs each, peak RSS the highest of them; a "
          f"child's peak RSS may include up to this parent's {parent_rss_mib():.0f} MiB)")
    recs = json.loads(rec.stdout)
    print(f"answers: {len(recs):,} recommendation(s); import said: {imp.stdout.strip()}")
    if len(recs) != pq_fleet.containers:
        sys.exit(f"recommend --from: {len(recs)} recommendations for {pq_fleet.containers} "
                 "containers")


if __name__ == "__main__":
    main()
