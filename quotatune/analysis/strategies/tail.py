"""The default strategy, ``tail``: what VPA and KRR ignore.

Memory (the resource that kills):

* **The tail of the peaks, not a percentile.**  A limit fails on the single highest sample
  of the coming week, so the base is the highest peak seen, plus a margin that is both
  relative (10 %) and absolute (256 MiB): small containers move by absolute steps (a cache,
  a batch, a worker), where a percentage of a small number covers nothing; VPA's OOM bump
  uses the same two-sided rule (max(+100 MiB, x1.2)).
* **Growth.**  A Theil-Sen line through the daily peaks (robust to single spikes); when its
  99 % confidence interval says the peaks grow, the line is projected to the end of the
  review horizon (``Policy.horizon_days``) and the limit covers that plus the margin.
* **Start-up separated from steady state.**  The first hour after a container's first sample
  is start-up (JVM heap sizing, cache warm-up): the request covers the steady state only,
  the limit covers the start-up peak too, so a restart is not an OOM.
* **OOM history.**  After an OOM kill the limit is at least max(limit + 100 MiB, limit x 1.2)
  of the limit that was hit, and this floor does not decay away (VPA's decaying histogram
  forgets the bump and walks back into the same OOM, kubernetes/autoscaler#1574).
* **JVM.**  When the container's JVM flags declare more than that (heap + metaspace +
  stacks...), the limit covers the JVM's own need.

CPU (compressible: an overrun is throttling, not a kill): per container, the request is the
percentile between p90 and p99 that minimises ``cores + price x overrun share``, with
``price`` = 2 cores per unit share: 20 millicores more are worth one point less overrun.
Flat-tailed containers (idle, steady) get p99 almost for free; wide ones stay near p90-p95.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import ndtri

from quotatune.analysis.policy import Policy
from quotatune.analysis.strategies.base import (
    MIN_MEM_STEP,
    Evidence,
    Sizing,
    Strategy,
    apply_floor,
    empty_reasons,
    fmt_cpu,
    fmt_mem,
    nan,
)
from quotatune.analysis.summary import History, percentile_values
from quotatune.model.units import MIB
from quotatune.rollup import sketch

MEM_MARGIN = 0.10
MEM_STEP = 256 * MIB
MIN_MEM = 64 * MIB
MIN_CPU = 0.005
STARTUP_HOURS = 1
TREND_CONFIDENCE = 0.99
TREND_MAX_DAYS = 28  # older peaks say little about today's growth
CPU_QUANTILES = np.round(np.arange(0.90, 0.9901, 0.005), 3)
CPU_OVERRUN_PRICE = 2.0  # cores per unit share of overrun samples


def theil_sen(y: np.ndarray, confidence: float = TREND_CONFIDENCE
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise Theil-Sen slope, intercept and lower confidence bound of the slope, for
    points at x = 0..n-1 with NaN gaps (scipy.stats.theilslopes' method, vectorised)."""
    n_rows, n = y.shape
    i, j = np.triu_indices(n, k=1)
    slopes = (y[:, j] - y[:, i]) / (j - i)
    slope = np.nanmedian(slopes, axis=1) if slopes.shape[1] else np.full(n_rows, np.nan)
    x = np.arange(n, dtype="float64")
    valid = ~np.isnan(y)
    ny = valid.sum(axis=1)
    nt = (~np.isnan(slopes)).sum(axis=1)
    xs = np.where(valid, x[None, :], np.nan)
    intercept = np.nanmedian(y, axis=1) - slope * np.nanmedian(xs, axis=1)
    z = ndtri(0.5 + confidence / 2.0)
    sigma = np.sqrt(ny * (ny - 1) * (2 * ny + 5) / 18.0)
    rl = np.maximum(np.round((nt - z * sigma) / 2.0).astype("int64") - 1, 0)
    ordered = np.sort(slopes, axis=1)  # NaN last
    lower = ordered[np.arange(n_rows), np.minimum(rl, np.maximum(nt - 1, 0))] if n > 1 else \
        np.full(n_rows, np.nan)
    lower = np.where(nt > 0, lower, np.nan)
    return slope, intercept, lower


def _cpu(h: History, reasons: list[list[str]]) -> np.ndarray:
    q = CPU_QUANTILES
    values = percentile_values(h, "cpu", q)  # containers x quantiles
    cost = values + CPU_OVERRUN_PRICE * (1 - q)[None, :]
    pick = cost.argmin(axis=1)
    cpu = values[np.arange(h.size), pick]
    for i in range(h.size):
        reasons[i].append(
            f"CPU: p{q[pick[i]] * 100:g} of {h.samples[i]} samples = {fmt_cpu(cpu[i])} (of p90 "
            f"{fmt_cpu(values[i, 0])} .. p99 {fmt_cpu(values[i, -1])}, the cheapest point at "
            f"{CPU_OVERRUN_PRICE * 10:g}m per point of overrun); no CPU limit"
        )
    return apply_floor(cpu, MIN_CPU, "CPU", fmt_cpu, reasons)


def _margin(x: np.ndarray) -> np.ndarray:
    return np.maximum(x * (1 + MEM_MARGIN), x + MEM_STEP)


def tail(h: History, ev: Evidence, policy: Policy) -> Sizing:
    n = h.size
    reasons = empty_reasons(n)
    cpu = _cpu(h, reasons)

    hourly = h.hourly_peaks
    first_hour = np.argmax(~np.isnan(hourly), axis=1)
    cols = np.arange(hourly.shape[1])[None, :]
    startup_mask = (cols >= first_hour[:, None]) & (cols < first_hour[:, None] + STARTUP_HOURS)
    steady = np.where(startup_mask, np.nan, hourly)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: nothing to separate
        startup_peak = np.nanmax(np.where(startup_mask, hourly, np.nan), axis=1)
        steady_peak = np.nanmax(steady, axis=1)
        # Daily peaks of the steady state: a start-up spike is not a trend.
        peaks = np.nanmax(steady.reshape(n, -1, 24), axis=2)[:, -TREND_MAX_DAYS:]
        slope, intercept, lower = theil_sen(peaks)
    steady_peak = np.where(np.isnan(steady_peak), h.mem_max, steady_peak)
    last_x = peaks.shape[1] - 1
    growing = (lower > 0) & (np.isfinite(slope))
    projected = np.where(growing, intercept + slope * (last_x + policy.horizon_days), 0.0)

    request = _margin(np.maximum(steady_peak, projected))
    limit = _margin(np.maximum(h.mem_max, projected))
    oom_floor = np.where(
        ev.oom_count > 0,
        np.maximum(ev.mem_limit + MIN_MEM_STEP, ev.mem_limit * 1.2), 0.0)
    oom_floor = np.nan_to_num(oom_floor)
    jvm = np.nan_to_num(ev.jvm_need)
    limit = np.maximum.reduce([limit, oom_floor, jvm, np.full(n, MIN_MEM)])
    request = np.minimum(np.maximum(request, MIN_MEM), limit)

    for i in range(n):
        r = reasons[i]
        r.append(f"memory: highest peak {fmt_mem(h.mem_max[i])}; limit = +10 % or +256 MiB, "
                 f"whichever is larger = {fmt_mem(float(_margin(h.mem_max[i])))}")
        if growing[i]:
            r.append(f"memory peaks grow {fmt_mem(float(slope[i]))}/day (Theil-Sen, 99 % sure it "
                     f"is > 0): {fmt_mem(projected[i])} expected in "
                     f"{policy.horizon_days:g} days; sized for that")
        if startup_peak[i] > steady_peak[i] * (1 + MEM_MARGIN):
            r.append(f"start-up peak {fmt_mem(startup_peak[i])} (first hour) above the steady "
                     f"{fmt_mem(steady_peak[i])}: request sized for the steady state, limit "
                     "covers the start-up")
        if oom_floor[i] > 0:
            r.append(f"{ev.oom_count[i]} OOM kill(s) at limit {fmt_mem(ev.mem_limit[i])}: limit "
                     f"at least {fmt_mem(oom_floor[i])} (this floor does not decay)")
        if jvm[i] > 0:
            r.append(f"limit at least {fmt_mem(jvm[i])}, the smallest limit the JVM's flags "
                     f"hold in: {ev.jvm_reason[i] or 'JVM flags'}")
    return Sizing(cpu, nan(n), request, limit, reasons)


TAIL = Strategy("tail", "highest memory peak +10 %/+256 MiB, growth trend, start-up, OOM "
                "and JVM floors; CPU p90..p99 by overrun price", tail,
                columns=("mem_hour_max", *sketch.CPU_COUNTS))
