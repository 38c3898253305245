"""The default strategy, ``tail``: what VPA and KRR ignore.

Memory (the resource that kills):

* **The highest peak, and a margin from the spread of the daily peaks.**  A limit fails on
  the single highest sample of the coming week, so the base is the highest peak seen.  The
  margin is the largest of: a proportion (+6 %), a small absolute floor (+16 MiB), and a
  *step* that grows with the spread of the daily peaks, ``highest / median - 1``: no step
  for peaks that are the same every day, the whole step (672 MiB) from a 20 % spread on,
  and never more than 1.1x the peak itself.  Containers whose daily peaks wander break
  their record by absolute amounts (a cache, a batch, a worker) that a percentage of a
  small number does not cover; a flat container, a sidecar say, gets the proportion or the
  floor (a flat 30 MiB sidecar: the 64 MiB minimum; one whose peaks wander: at most 2.1x
  its peak, 63 MiB).  The proportion, the step, the spread that earns it and the cap were
  chosen by rolling-origin folds (14+7 and 7+7 days, sliding by a day) on a month of 500
  production VMs, by the worst fold: fewest OOM VMs at no more GiB than KRR ``simple``
  (:mod:`quotatune.analyze.folds`); the floor only keeps a flat mid-sized container off
  its exact peak.
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
percentile between p80 and p99.5 that minimises ``cores + price x overrun share``, with
``price`` = 5 cores per unit share: 50 millicores more are worth one point less overrun.
This is the fleet's own trade-off made per container (the fleet's overrun share is the
average of the containers'), so a flat container gets p99.5 almost for free and a bursty
one stops below its bursts, where each point would cost the most.  Recency weighting (VPA's
24 h half-life) was tried and left out: on the folds it raised the worst fold's overrun
share by a point at the same cores.
"""

from __future__ import annotations

import warnings
from statistics import NormalDist

import numpy as np

from quotatune.analysis.oom import oom_floor as after_oom
from quotatune.analysis.policy import Policy
from quotatune.analysis.strategies.base import (
    Evidence,
    Sizing,
    Strategy,
    apply_floor,
    empty_reasons,
    fmt_cpu,
    fmt_cpus,
    fmt_mem,
    fmt_mems,
    nan,
)
from quotatune.analysis.summary import History, percentile_values
from quotatune.model.units import MIB
from quotatune.rollup import sketch

MEM_MARGIN = 0.06
MEM_FLOOR = 16 * MIB
MEM_STEP = 672 * MIB
MEM_STEP_SPREAD = 0.20
MEM_STEP_CAP = 1.1
MIN_MEM = 64 * MIB
MIN_CPU = 0.005
STARTUP_HOURS = 1
TREND_CONFIDENCE = 0.99
TREND_MAX_DAYS = 28  # older peaks say little about today's growth
CPU_QUANTILES = np.round(np.arange(0.80, 0.9951, 0.005), 3)
CPU_OVERRUN_PRICE = 5.0  # cores per unit share of overrun samples


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
    # One normal quantile: the standard library's (Wichura's AS241, within 2 ulp of
    # scipy's ndtri) spares every recommend run scipy.special's 0.1 s import.
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
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
    chosen, low, high = fmt_cpus(cpu), fmt_cpus(values[:, 0]), fmt_cpus(values[:, -1])
    samples = h.samples.tolist()
    for i in range(h.size):
        reasons[i].append(
            f"CPU: p{q[pick[i]] * 100:g} of {samples[i]} samples = {chosen[i]} (of "
            f"p{q[0] * 100:g} {low[i]} .. p{q[-1] * 100:g} "
            f"{high[i]}, the cheapest point at "
            f"{CPU_OVERRUN_PRICE * 10:g}m per point of overrun); no CPU limit"
        )
    return apply_floor(cpu, MIN_CPU, "CPU", fmt_cpu, reasons)


def _margin(x: np.ndarray, step: np.ndarray) -> np.ndarray:
    return np.maximum.reduce([x * (1 + MEM_MARGIN), x + MEM_FLOOR,
                              x + np.minimum(step, MEM_STEP_CAP * x)])


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

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(peaks, axis=1)
        spread = np.maximum(np.nanmax(peaks, axis=1) - med, 0) / med
    spread = np.nan_to_num(spread, nan=0.0, posinf=1.0)
    step = MEM_STEP * np.clip(spread / MEM_STEP_SPREAD, 0.0, 1.0)
    request = _margin(np.maximum(steady_peak, projected), step)
    base = np.maximum(h.mem_max, projected)
    limit = limit_margin = _margin(base, step)
    step = np.minimum(step, MEM_STEP_CAP * base)  # as applied to the limit, for the reasons
    oom_floor = np.nan_to_num(np.where(ev.oom_count > 0, after_oom(ev.oom_limit), 0.0))
    jvm = np.nan_to_num(ev.jvm_need)
    limit = np.maximum.reduce([limit, oom_floor, jvm, np.full(n, MIN_MEM)])
    request = np.minimum(np.maximum(request, MIN_MEM), limit)

    peak_s, step_s, limit_s = fmt_mems(h.mem_max), fmt_mems(step), fmt_mems(limit_margin)
    whole_step, floor = fmt_mem(MEM_STEP), fmt_mem(MEM_FLOOR)
    for i in range(n):
        r = reasons[i]
        r.append(
            f"memory: highest peak {peak_s[i]}; daily peaks spread "
            f"{spread[i] * 100:.0f} % above their median, so a step of {step_s[i]} (the "
            f"whole {whole_step} from {MEM_STEP_SPREAD * 100:g} %, at most "
            f"{MEM_STEP_CAP:g}x the peak); limit = peak + the largest of +{MEM_MARGIN * 100:g} %, "
            f"+{floor} and that step = {limit_s[i]}")
        if growing[i]:
            r.append(f"memory peaks grow {fmt_mem(float(slope[i]))}/day (Theil-Sen, 99 % sure it "
                     f"is > 0): {fmt_mem(projected[i])} expected in "
                     f"{policy.horizon_days:g} days; sized for that")
        if startup_peak[i] > steady_peak[i] * (1 + MEM_MARGIN):
            r.append(f"start-up peak {fmt_mem(startup_peak[i])} (first hour) above the steady "
                     f"{fmt_mem(steady_peak[i])}: request sized for the steady state, limit "
                     "covers the start-up")
        if oom_floor[i] > 0:
            r.append(f"{ev.oom_count[i]} OOM kill(s) at limit {fmt_mem(ev.oom_limit[i])}: limit "
                     f"at least {fmt_mem(oom_floor[i])} (this floor does not decay)")
        if jvm[i] > 0:
            r.append(f"limit at least {fmt_mem(jvm[i])}, the smallest limit the JVM's flags "
                     f"hold in: {ev.jvm_reason[i] or 'JVM flags'}")
    return Sizing(cpu, nan(n), request, limit, reasons)


TAIL = Strategy("tail", "highest memory peak + a margin from the spread of daily peaks, growth "
                "trend, start-up, OOM and JVM floors; CPU p80..p99.5 by overrun price", tail,
                columns=("mem_hour_max", *sketch.CPU_COUNTS))
