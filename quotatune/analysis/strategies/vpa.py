"""The Kubernetes VPA recommender's published algorithm (defaults of vertical-pod-autoscaler
``recommender``), computed on the rollups:

* CPU: p90 of a histogram of samples with buckets from 0.01 core growing 5 %, each sample
  weighted ``2 ** (t / 24 h)`` (half-life 24 h); the percentile is the *end* of the bucket
  where the cumulative weight reaches 90 %.
* Memory: one peak per 24 h window goes into a histogram with buckets from 1e7 bytes
  growing 5 %, weighted like CPU; p90.  An OOM kill replaces that window's peak with
  ``max(used + 100 MiB, used * 1.2)``, ``used = max(request, peak)``.
* Both targets × 1.15 safety margin; at least 25m and 250 MiB.
* Limits keep the current limit/request ratio; without a known ratio there is no limit.

Differences from the live recommender, stated so a reviewer can check them: windows are UTC
days (VPA's start at the container's first sample; on the Bitbrains month both give the same
result), and CPU samples are not weighted by the request (VPA weights by the request, which
only matters when the request changed during the history).
"""

from __future__ import annotations

import numpy as np

from quotatune.analysis.policy import Policy
from quotatune.analysis.strategies.base import (
    MIN_MEM_STEP,
    Evidence,
    Sizing,
    apply_floor,
    empty_reasons,
    fmt_cpu,
    fmt_mem,
    ratio_limit,
)
from quotatune.analysis.summary import VPA_NBUCKETS, History, coarse, quantile_bucket
from quotatune.model.units import MIB
from quotatune.rollup import sketch

PERCENTILE = 0.9
MARGIN = 0.15
MIN_CPU = 0.025
MIN_MEM = 250 * MIB
OOM_RATIO = 1.2


def vpa_bucket_end(bucket: np.ndarray, first: float) -> np.ndarray:
    """VPA's percentile value: the end of the bucket (the start of the last one)."""
    b = np.where(bucket < VPA_NBUCKETS - 1, bucket + 1, bucket)
    return np.asarray(sketch.bucket_start(b, first, fine=sketch.FINE))


def vpa_memory_peaks(h: History, ev: Evidence) -> np.ndarray:
    """Daily peaks with VPA's OOM bump applied to the day of the last OOM kill."""
    peaks = h.daily_peaks.copy()
    for i in np.flatnonzero(~np.isnan(ev.oom_last_ns)):
        d = int(np.searchsorted(h.days, ev.oom_last_ns[i], side="right")) - 1
        if d < 0:
            continue  # the OOM predates the history: VPA discards it as too old
        peak = np.nan_to_num(peaks[i, d])
        req = np.nan_to_num(ev.mem_request[i])
        used = max(req, peak)
        peaks[i, d] = max(peak, used + MIN_MEM_STEP, used * OOM_RATIO)
    return peaks


def vpa(h: History, ev: Evidence, policy: Policy) -> Sizing:
    n = h.size
    reasons = empty_reasons(n)
    cpu_b = quantile_bucket(coarse(h.histogram("cpu", decayed=True)), PERCENTILE)
    cpu_p = vpa_bucket_end(cpu_b, sketch.CPU_FIRST)
    cpu = apply_floor(cpu_p * (1 + MARGIN), MIN_CPU, "CPU", fmt_cpu, reasons)

    peaks = vpa_memory_peaks(h, ev)
    ndays = peaks.shape[1]
    # Window d's peak is stamped at the window's end; relative weights are 2 ** (d - last).
    w = np.broadcast_to(np.exp2(np.arange(ndays) - (ndays - 1.0)), peaks.shape)
    ok = ~np.isnan(peaks)
    rows = np.nonzero(ok)[0]
    b = sketch.bucket_index(peaks[ok], sketch.MEM_FIRST) // sketch.FINE
    hist = np.bincount(rows * VPA_NBUCKETS + b, weights=w[ok],
                       minlength=n * VPA_NBUCKETS).reshape(n, VPA_NBUCKETS)
    mem_p = vpa_bucket_end(quantile_bucket(hist, PERCENTILE), sketch.MEM_FIRST)
    mem = apply_floor(mem_p * (1 + MARGIN), MIN_MEM, "memory", fmt_mem, reasons)

    days = ok.sum(axis=1)
    for i in range(n):
        reasons[i][:0] = [
            f"CPU: p90 of {h.samples[i]} samples weighted by recency (half-life 24 h) is "
            f"{fmt_cpu(cpu_p[i])}; x1.15 margin = {fmt_cpu(cpu_p[i] * 1.15)}",
            f"memory: p90 of {days[i]} daily peaks weighted by recency (half-life 24 h) is "
            f"{fmt_mem(mem_p[i])} (highest peak {fmt_mem(h.mem_max[i])}); x1.15 margin = "
            f"{fmt_mem(mem_p[i] * 1.15)}",
        ]
        if ev.oom_count[i]:
            reasons[i].append(
                f"{ev.oom_count[i]} OOM kill(s): that day's peak counted as "
                "max(used + 100 MiB, used x 1.2)"
            )
    return Sizing(
        cpu_request=cpu,
        cpu_limit=ratio_limit(cpu, ev.cpu_request, ev.cpu_limit),
        mem_request=mem,
        mem_limit=ratio_limit(mem, ev.mem_request, ev.mem_limit),
        reasons=reasons,
    )
