"""Diagnose speed over a fleet's usage history, and the baseline of fitting every container.

A fleet of N containers × one day of 1-minute samples (flat with noise, GC sawtooth, warm-up
plateaus, and 1 % leaking) goes through ``diagnose``.  The baseline, measured in the same run on
the same frame, is the straightforward way to find growth: a Theil–Sen fit (scipy) of every
container's hourly peaks, no screening.  Both must name the same leaking containers; the
figures printed are wall seconds and the speed-up.  Exits 1 if the findings differ.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quotatune.analysis.findings.diagnose import diagnose  # noqa: E402

MIB = 1 << 20
N_CONTAINERS = 2000
N_SAMPLES = 1440
NOW = pd.Timestamp("2026-11-28T00:00:00Z")


def fleet(n: int, m: int, seed: int = 1) -> tuple[pd.DataFrame, set[str]]:
    rng = np.random.default_rng(seed)
    t = np.arange(m)
    base = rng.uniform(100, 800, n)[:, None] * MIB
    mem = base + rng.normal(0, 4 * MIB, (n, m))
    shape = rng.integers(0, 3, n)
    mem[shape == 1] += (t % rng.integers(5, 40)) * 3 * MIB  # GC sawtooth
    mem[shape == 2] += 200 * MIB * (1 - np.exp(-t / 90.0))  # warm-up plateau
    leaking = rng.choice(n, n // 100, replace=False)
    mem[leaking] += t * (0.5 * MIB)  # 30 MiB/h
    names = np.array([f"svc-{i:05d}" for i in range(n)])
    ts = pd.DatetimeIndex(NOW - pd.Timedelta(minutes=m) + pd.to_timedelta(t, unit="min"))
    df = pd.DataFrame({
        "timestamp": np.tile(ts.values, n), "namespace": "bench",
        "workload": np.repeat(names, m), "pod": np.repeat(names, m), "container": "app",
        "cpu_cores": 0.1, "memory_working_set_bytes": mem.ravel(),
        "memory_limit_bytes": 2.0 * (1 << 30),
    })
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    return df, set(names[leaking])


def baseline(df: pd.DataFrame) -> set[str]:
    """Fit every container: hourly peaks, Theil–Sen, 90 % interval above zero, limit in 7 d."""
    out = set()
    hourly = df.set_index("timestamp").groupby("workload")["memory_working_set_bytes"].resample(
        "1h").max()
    for name, s in hourly.groupby(level=0):
        y = s.to_numpy()
        x = np.arange(len(y), dtype=float)
        half = x >= x.max() / 2
        slope, intercept, low, _ = stats.theilslopes(y[half], x[half], alpha=0.90)
        level = intercept + slope * x.max()
        if low > 0 and slope * 0.5 * x.max() > 16 * MIB and (
                2.0 * (1 << 30) - level) / slope < 24 * 7:
            out.add(str(name))
    return out


def main() -> int:
    df, leaking = fleet(N_CONTAINERS, N_SAMPLES)
    print(f"fleet: {N_CONTAINERS} containers x {N_SAMPLES} samples = {len(df):,} rows, "
          f"{len(leaking)} leaking")
    t0 = time.perf_counter()
    findings = diagnose(df, None, None, now=NOW)
    ours = time.perf_counter() - t0
    found = {f.workload for f in findings if f.kind == "memory-growth"}
    t0 = time.perf_counter()
    base = baseline(df)
    theirs = time.perf_counter() - t0
    print(f"diagnose:                  {ours:7.2f} s  growth findings {len(found)}, "
          f"other findings {len(findings) - len(found)}")
    print(f"baseline (fit every one):  {theirs:7.2f} s  growth findings {len(base)}")
    print(f"speed-up: {theirs / ours:.1f}x")
    ok = found == leaking and len(findings) == len(found)
    print("same leaking containers as planted: " + ("yes" if found == leaking else
          f"NO (missed {sorted(leaking - found)[:5]}, extra {sorted(found - leaking)[:5]})"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
