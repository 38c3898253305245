"""The two simplest families.

* ``percentile``: CPU request = p95 of every sample; memory request = p99 of every sample
  x 1.15, memory limit = highest sample x 1.15; no CPU limit.
* ``krr``: Robusta KRR's ``simple`` strategy with its defaults: over the last 14 days, each
  pod's p95 CPU, and the CPU request is the highest of them (KRR asks Prometheus for
  ``quantile_over_time`` per pod and takes the maximum); no CPU limit; memory request =
  limit = highest sample of any pod x 1.15; at least 10m and 100 MiB.  KRR reads OOM kills
  only with ``--use_oomkill_data`` (off by default), so ``krr`` ignores them.
* ``krr-oom``: the same with ``--use_oomkill_data``: after an OOM kill in the window, memory
  is at least the limit in force x 1.25.
"""

from __future__ import annotations

import numpy as np

from quotatune.analysis.policy import Policy
from quotatune.analysis.strategies.base import (
    Evidence,
    Sizing,
    apply_floor,
    empty_reasons,
    fmt_cpu,
    fmt_days,
    fmt_mem,
    nan,
)
from quotatune.analysis.summary import History, percentile_value
from quotatune.model.units import MIB


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
    """KRR ``simple`` as it runs by default (``use_oomkill_data`` off)."""
    return _krr(h, ev, use_oomkill_data=False)


def krr_oom(h: History, ev: Evidence, policy: Policy) -> Sizing:
    """KRR ``simple --use_oomkill_data``."""
    return _krr(h, ev, use_oomkill_data=True)


def max_pod_percentile(h: History, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Per container: the highest of its pods' CPU q-quantiles, and how many pods it has."""
    pods, owner = h.pods
    out = np.full(h.size, -np.inf)
    np.maximum.at(out, owner, percentile_value(pods, "cpu", q))
    return out, np.bincount(owner, minlength=h.size)


def _krr(h: History, ev: Evidence, *, use_oomkill_data: bool) -> Sizing:
    reasons = empty_reasons(h.size)
    p95, npods = max_pod_percentile(h, 0.95)
    cpu = apply_floor(p95, KRR_MIN_CPU, "CPU", fmt_cpu, reasons)
    mem = h.mem_max * 1.15
    # KRR's OOM query looks back over the same window as its usage queries; the floor is the
    # limit in force at the kill (Evidence.oom_limit), not one raised since.
    recent = np.isnan(ev.oom_last_ns) | (ev.oom_last_ns >= (h.days[0] if len(h.days) else 0))
    oom = use_oomkill_data & (ev.oom_count > 0) & (ev.oom_limit > 0) & recent
    mem = np.where(oom, np.maximum(mem, np.nan_to_num(ev.oom_limit) * 1.25), mem)
    mem = apply_floor(mem, KRR_MIN_MEM, "memory", fmt_mem, reasons)
    for i in range(h.size):
        of = f"the highest of {npods[i]} pods' p95" if npods[i] > 1 else "p95"
        reasons[i][:0] = [
            f"CPU: {of} of {h.samples[i]} samples over the last "
            f"{fmt_days(h.history_hours[i])} = {fmt_cpu(p95[i])}; no CPU limit",
            f"memory: highest sample {fmt_mem(h.mem_max[i])} x1.15 = {fmt_mem(h.mem_max[i] * 1.15)}"
            ", request = limit",
        ]
        if oom[i]:
            reasons[i].append(
                f"{ev.oom_count[i]} OOM kill(s): at least the limit in force "
                f"{fmt_mem(ev.oom_limit[i])} x1.25"
            )
    return Sizing(cpu, nan(h.size), mem, mem.copy(), reasons)
