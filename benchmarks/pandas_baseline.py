"""The plain-pandas baselines of the fleet-scale benchmarks, each run as its own process:

    python benchmarks/pandas_baseline.py groupby FILE.parquet  # p95 CPU, max memory
    python benchmarks/pandas_baseline.py read_csv FILE.csv     # pandas.read_csv
    python benchmarks/pandas_baseline.py csv_groupby FILE.csv  # read_csv, then as groupby

What a user would write in five lines: ``pandas.read_parquet`` of the columns it needs (names
come back categorical from a dictionary-encoded file), one ``groupby`` per container.  Prints
how many containers / rows it saw, so the work cannot be skipped.
"""

from __future__ import annotations

import sys

import pandas as pd

KEYS = ["namespace", "workload", "container"]


def groupby(path: str) -> str:
    return _p95_and_peak(pd.read_parquet(path, columns=[*KEYS, "cpu_cores",
                                                        "memory_working_set_bytes"]))


def csv_groupby(path: str) -> str:
    return _p95_and_peak(pd.read_csv(path, usecols=[*KEYS, "cpu_cores",
                                                    "memory_working_set_bytes"]))


def _p95_and_peak(df: pd.DataFrame) -> str:
    g = df.groupby(KEYS, observed=True)
    p95 = g["cpu_cores"].quantile(0.95)
    peak = g["memory_working_set_bytes"].max()
    return f"{len(p95)} containers, {len(df)} samples, sum p95 {p95.sum():.3f} cores, " \
           f"sum max {peak.sum() / 2**30:.1f} GiB"


def read_csv(path: str) -> str:
    df = pd.read_csv(path)
    return f"{len(df)} rows, {df.shape[1]} columns"


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    print({"groupby": groupby, "read_csv": read_csv, "csv_groupby": csv_groupby}[mode](path))


if __name__ == "__main__":
    main()
