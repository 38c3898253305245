"""Autopilot-style moving-window recommenders (Rzadca et al., "Autopilot: workload
autoscaling at Google", EuroSys 2020), on per-sample histograms with exponential decay.

Autopilot aggregates usage per 5-minute window and keeps, per window, a histogram, a peak
and an average; recommenders then take the peak over the windows, a percentile of the
decayed sum of window histograms, or the decay-weighted average, plus a margin.  The sum of
window histograms is the histogram of the samples, so the rollups give these exactly for
samples at least 5 minutes apart and to within the 5-minute window for denser ones.  The
decay half-life is the rollups' 24 h for both resources (the paper uses 12 h for CPU and
48 h for memory).  Memory is never sized by an average: it is not compressible.

* ``window-peak``: CPU and memory = peak x 1.10.
* ``window-pct``: CPU = decayed p95 x 1.10; memory = decayed p98 x 1.10.
* ``window-avg``: CPU = decayed average x 1.10; memory = peak x 1.10.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from quotatune.analysis.policy import Policy
from quotatune.analysis.strategies.base import (
    Evidence,
    Sizing,
    Strategy,
    empty_reasons,
    fmt_cpu,
    fmt_mem,
    nan,
)
from quotatune.analysis.summary import History, percentile_value
from quotatune.rollup import sketch

MARGIN = 0.10


def _sizing(h: History, cpu: np.ndarray, cpu_what: str, mem: np.ndarray, mem_what: str) -> Sizing:
    reasons = empty_reasons(h.size)
    for i in range(h.size):
        reasons[i] += [
            f"CPU: {cpu_what} of {h.samples[i]} samples = {fmt_cpu(cpu[i])}; "
            f"x{1 + MARGIN:.2f} margin = {fmt_cpu(cpu[i] * (1 + MARGIN))}",
            f"memory: {mem_what} = {fmt_mem(mem[i])}; x{1 + MARGIN:.2f} margin = "
            f"{fmt_mem(mem[i] * (1 + MARGIN))}, request = limit",
        ]
    m = mem * (1 + MARGIN)
    return Sizing(cpu * (1 + MARGIN), nan(h.size), m, m.copy(), reasons)


def window_peak(h: History, ev: Evidence, policy: Policy) -> Sizing:
    return _sizing(h, h.cpu_max, "peak", h.mem_max, "peak")


def window_pct(h: History, ev: Evidence, policy: Policy) -> Sizing:
    cpu = percentile_value(h, "cpu", 0.95, decayed=True)
    mem = percentile_value(h, "mem", 0.98, decayed=True)
    return _sizing(h, cpu, "p95 weighted by recency (half-life 24 h)", mem,
                   "p98 weighted by recency (half-life 24 h)")


def window_avg(h: History, ev: Evidence, policy: Policy) -> Sizing:
    cpu = h.decayed_mean("cpu")
    return _sizing(h, cpu, "average weighted by recency (half-life 24 h)", h.mem_max, "peak")


_FAMILY: list[tuple[str, str, Callable[[History, Evidence, Policy], Sizing], tuple[str, ...]]] = [
    ("window-peak", "Autopilot moving window: peak x1.10", window_peak, ()),
    ("window-pct", "Autopilot moving window: decayed p95 CPU / p98 memory x1.10", window_pct,
     sketch.CPU_DECAYED + sketch.MEM_DECAYED),
    ("window-avg", "Autopilot moving window: decayed average CPU, peak memory, x1.10",
     window_avg, ("cpu_wsum", "w_sum")),
]
WINDOW_STRATEGIES: dict[str, Strategy] = {
    n: Strategy(n, s, f, columns=c) for n, s, f, c in _FAMILY}
