"""The explicit registry of strategies, and the two simplest families.

* ``percentile``: CPU request = p95 of every sample; memory request = p99 of every sample
  x 1.15, memory limit = highest sample x 1.15; no CPU limit.
* ``krr``: Robusta KRR's ``simple`` strategy: over the last 14 days, CPU request = p95, no CPU
  limit; memory request = limit = highest sample x 1.15 (after an OOM kill at least the
  limit in force x 1.25); at least 10m and 100 MiB.

The other families live in their own modules (``strategies_vpa``, ``strategies_window``,
``strategies_tail``); all of them are listed here, by name.
"""

from __future__ import annotations

import numpy as np

from quotatune.analyze import sketch
from quotatune.analyze.policy import Policy
from quotatune.analyze.strategies_base import (
    Evidence,
    Sizing,
    Strategy,
    apply_floor,
    empty_reasons,
    fmt_cpu,
    fmt_days,
    fmt_mem,
    nan,
)
from quotatune.analyze.strategies_tail import TAIL
from quotatune.analyze.strategies_vpa import vpa
from quotatune.analyze.strategies_window import WINDOW_STRATEGIES
from quotatune.analyze.summary import History, percentile_value
from quotatune.units import MIB


def percentile(h: History, ev: Evidence, policy: Policy) -> Sizing:
    reasons = empty_reasons(h.size)
    cpu = percentile_value(h, "cpu", 0.95)
    mem_req = percentile_value(h, "mem", 0.99) * 1.15
    mem_lim = h.mem_max * 1.15
    for i in range(h.size):
        reasons[i] += [
            f"CPU: p95 of {h.samples[i]} samples over {fmt_days(h.history_hours[i])} "
            f"= {fmt_cpu(cpu[i])}",
            f"memory: p99 of the samples {fmt_mem(mem_req[i] / 1.15)} x1.15 = request "
            f"{fmt_mem(mem_req[i])}; highest sample {fmt_mem(h.mem_max[i])} x1.15 = limit "
            f"{fmt_mem(mem_lim[i])}",
        ]
    return Sizing(cpu, nan(h.size), mem_req, np.maximum(mem_lim, mem_req), reasons)


KRR_MIN_CPU = 0.010
KRR_MIN_MEM = 100 * MIB


def krr(h: History, ev: Evidence, policy: Policy) -> Sizing:
    reasons = empty_reasons(h.size)
    p95 = percentile_value(h, "cpu", 0.95)
    cpu = apply_floor(p95, KRR_MIN_CPU, "CPU", fmt_cpu, reasons)
    mem = h.mem_max * 1.15
    oom = (ev.oom_count > 0) & (ev.mem_limit > 0)
    mem = np.where(oom, np.maximum(mem, np.nan_to_num(ev.mem_limit) * 1.25), mem)
    mem = apply_floor(mem, KRR_MIN_MEM, "memory", fmt_mem, reasons)
    for i in range(h.size):
        reasons[i][:0] = [
            f"CPU: p95 of {h.samples[i]} samples over the last "
            f"{fmt_days(h.history_hours[i])} = {fmt_cpu(p95[i])}; no CPU limit",
            f"memory: highest sample {fmt_mem(h.mem_max[i])} x1.15 = {fmt_mem(h.mem_max[i] * 1.15)}"
            ", request = limit",
        ]
        if oom[i]:
            reasons[i].append(
                f"{ev.oom_count[i]} OOM kill(s): at least the limit in force "
                f"{fmt_mem(ev.mem_limit[i])} x1.25"
            )
    return Sizing(cpu, nan(h.size), mem, mem.copy(), reasons)


STRATEGIES: dict[str, Strategy] = {
    "percentile": Strategy("percentile", "p95 CPU, p99 memory x1.15, limit = max x1.15",
                           percentile, columns=sketch.CPU_COUNTS + sketch.MEM_COUNTS),
    "krr": Strategy("krr", "Robusta KRR simple: p95 CPU, max memory x1.15 over 14 days", krr,
                    window_days=14.0, columns=sketch.CPU_COUNTS),
    "vpa": Strategy("vpa", "Kubernetes VPA recommender defaults (decaying histograms, p90, "
                    "x1.15)", vpa, columns=sketch.CPU_DECAYED),
    **WINDOW_STRATEGIES,
    TAIL.name: TAIL,
}
DEFAULT_STRATEGY = TAIL.name
