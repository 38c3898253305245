"""The default strategy ("tail"): size memory for the tail of each container's daily peaks
and for what the other strategies ignore.  (First version; see the module history.)"""

from __future__ import annotations

from quotatune.analyze.policy import Policy
from quotatune.analyze.strategies_base import (
    Evidence,
    Sizing,
    Strategy,
    empty_reasons,
    fmt_cpu,
    fmt_mem,
    nan,
)
from quotatune.analyze.summary import History, percentile_value


def tail(h: History, ev: Evidence, policy: Policy) -> Sizing:
    reasons = empty_reasons(h.size)
    cpu = percentile_value(h, "cpu", 0.95, decayed=True)
    mem = h.mem_max * 1.15
    for i in range(h.size):
        reasons[i] += [
            f"CPU: p95 weighted by recency (half-life 24 h) of {h.samples[i]} samples = "
            f"{fmt_cpu(cpu[i])}",
            f"memory: highest peak {fmt_mem(h.mem_max[i])} x1.15 = {fmt_mem(mem[i])}",
        ]
    return Sizing(cpu, nan(h.size), mem, mem.copy(), reasons)


TAIL = Strategy("tail", "tail of daily memory peaks, trend, start-up, OOM and JVM needs; "
                "recency-weighted p95 CPU", tail)
