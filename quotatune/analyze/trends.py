"""Memory growth: how long until a container's working set reaches its limit.

A JVM's or any GC'd runtime's working set is a sawtooth, and a warming-up service rises and
levels off; neither is a leak.  So the trend is fitted to the *peak envelope* (the maximum of
each of up to :data:`BUCKETS` equal time buckets), per container instance (a restart resets
memory), with the Theil–Sen estimator (median of pairwise slopes: robust to spikes and GC
drops).  It fires only when, over the recent half of the history,

* the 90 % confidence interval of the slope is above zero,
* the peaks rise steadily (Kendall's tau ≥ :data:`MIN_TAU`),
* the last quarter is still rising (a warm-up that levelled off is not growth),
* the rise is material (≥ :data:`MIN_RISE_BYTES` and ≥ 2 % of the limit),

and the limit is within the policy's horizon at that slope.  Without a limit it reports an
``info`` finding with the slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from quotatune.analyze.findings_common import Context, finding, mi
from quotatune.model import ContainerKey, Finding, format_time

BUCKETS = 48
MIN_TAU = 0.5
MIN_RISE_BYTES = 16 << 20
MIN_RISE_OF_LIMIT = 0.02
MIB = 1 << 20


@dataclass(frozen=True)
class Growth:
    slope_bytes_per_hour: float
    low: float
    high: float
    level_bytes: float  # the fitted peak at the last sample
    first_bytes: float  # the fitted peak at the start of the recent window
    hours: float  # length of the recent window
    last_time: pd.Timestamp


def fit_growth(times: pd.Series, values: pd.Series, *, min_points: int = 12,
               min_span: pd.Timedelta = pd.Timedelta(hours=1)) -> Growth | None:
    """The steady growth of a series' peak envelope, or None when it is not steadily growing."""
    t = pd.to_datetime(times, utc=True)
    v = pd.to_numeric(values, errors="coerce").astype(float)
    ok = t.notna().to_numpy() & np.isfinite(v.to_numpy())
    t, v = t[ok], v[ok]
    if len(v) < min_points or t.max() - t.min() < min_span:
        return None
    hours = ((t - t.min()).dt.total_seconds() / 3600).to_numpy()
    span = hours.max()
    nb = int(min(BUCKETS, max(len(v) // 2, 2)))
    idx = np.minimum((hours / span * nb).astype(int), nb - 1)
    frame = pd.DataFrame({"b": idx, "h": hours, "v": v.to_numpy()})
    peaks = frame.loc[frame.groupby("b")["v"].idxmax()].sort_values("h")
    recent = peaks[peaks["h"] >= span / 2]
    if len(recent) < 6:
        return None
    x, y = recent["h"].to_numpy(), recent["v"].to_numpy()
    if np.ptp(y) == 0:
        return None
    slope, intercept, low, high = stats.theilslopes(y, x, alpha=0.90)
    tau = stats.kendalltau(x, y).statistic
    tail = peaks[peaks["h"] >= span * 0.75]
    tail_slope = stats.theilslopes(tail["v"], tail["h"])[0] if len(tail) >= 3 else 0.0
    if not (low > 0 and tau >= MIN_TAU and tail_slope > 0):
        return None
    return Growth(slope_bytes_per_hour=float(slope), low=float(low), high=float(high),
                  level_bytes=float(intercept + slope * span),
                  first_bytes=float(intercept + slope * x.min()),
                  hours=float(span - x.min()), last_time=pd.Timestamp(t.max()))


def memory_growth(ctx: Context) -> list[Finding]:
    u = ctx.usage
    if u.empty:
        return []
    p = ctx.policy
    out: list[Finding] = []
    for (ns, wl, c), g in u.groupby(["namespace", "workload", "container"], sort=True):
        key = ContainerKey(str(ns), str(wl), str(c))
        best = None
        for _, inst in g.groupby("pod"):
            inst = _since_last_restart(inst)
            growth = fit_growth(inst["timestamp"], inst["memory_working_set_bytes"],
                                min_points=p.growth_min_points, min_span=p.growth_min_span)
            if growth is not None and (best is None or growth.slope_bytes_per_hour
                                       > best.slope_bytes_per_hour):
                best = growth
        if best is None:
            continue
        f = _growth_finding(ctx, key, best)
        if f is not None:
            out.append(f)
    return out


def _since_last_restart(inst: pd.DataFrame) -> pd.DataFrame:
    inst = inst.sort_values("timestamp")
    if "restarts" not in inst.columns:
        return inst
    r = inst["restarts"].astype(float).ffill()
    if r.notna().any() and r.iloc[-1] > r.iloc[0]:
        return inst[r >= r.iloc[-1]]
    return inst


def _growth_finding(ctx: Context, key: ContainerKey, g: Growth) -> Finding | None:
    p = ctx.policy
    limit = ctx.limit_bytes(key)
    rise = g.level_bytes - g.first_bytes
    if rise < MIN_RISE_BYTES or (limit and rise < MIN_RISE_OF_LIMIT * limit):
        return None
    per_h = g.slope_bytes_per_hour / MIB
    evidence = [
        f"working-set peaks grew from {mi(g.first_bytes)} to {mi(g.level_bytes)} over "
        f"{g.hours:.1f} h (Theil–Sen slope {per_h:.1f} MiB/h, 90 % CI "
        f"{g.low / MIB:.1f}–{g.high / MIB:.1f})",
    ]
    if not limit:
        return finding(key, "memory-growth", "info", format_time(g.last_time), evidence + [
            "no memory limit"],
            "Memory keeps growing with no limit to stop it: if this is a leak it will take "
            "memory from its neighbours; set a limit from its peak and watch the trend.")
    hours_left = max((limit - g.level_bytes) / g.slope_bytes_per_hour, 0.0)
    left = pd.Timedelta(hours=hours_left)
    if left > p.growth_horizon:
        return None
    when = format_time(g.last_time + left)
    evidence += [f"memory limit {mi(limit)}",
                 f"at this slope the limit is reached in about {_human(hours_left)} "
                 f"(around {when})"]
    severity = "critical" if left <= p.growth_critical else "warning"
    return finding(
        key, "memory-growth", severity, format_time(g.last_time), evidence,
        f"If this is a leak, find it (heap dump, profiler): raising the limit only moves the "
        f"OOM kill. If it is a warm-up that will level off, set the limit above the plateau, "
        f"at least {mi(max(g.level_bytes * p.peak_headroom, limit))}, and check again.")


def _human(hours: float) -> str:
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"
