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

from quotatune.analysis.findings.common import Context, finding
from quotatune.model import ContainerKey, Finding, format_time
from quotatune.model.units import mib_text as mi

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


_GROUP = ["namespace", "workload", "container", "pod"]


def peak_envelope(usage: pd.DataFrame, *, min_points: int = 12,
                  min_span: pd.Timedelta = pd.Timedelta(hours=1)) -> pd.DataFrame:
    """Per container instance (since its last restart): the maximum of each of up to BUCKETS
    equal time buckets, with ``h`` (hours since the instance's first sample) and ``span``.
    Vectorised over all instances: a fleet's usage is millions of rows."""
    d = usage.loc[:, [c for c in _GROUP + ["timestamp", "memory_working_set_bytes",
                                           "restarts"] if c in usage.columns]]
    d = d[d["timestamp"].notna() & np.isfinite(d["memory_working_set_bytes"])]
    if d.empty:
        return pd.DataFrame(columns=_GROUP + ["gid", "h", "v", "span", "timestamp"])
    # One factorisation of the string keys; every later grouping is by this integer id.
    gid = d.groupby(_GROUP, sort=False).ngroup()
    if "restarts" in d.columns:  # a restart resets memory: keep what ran since the last one
        last = d["restarts"].groupby(gid).transform("max")
        keep = (d["restarts"].isna() | last.isna() | (d["restarts"] >= last)).to_numpy()
        d, gid = d[keep], gid[keep]
    # Nanoseconds whatever the frame's unit (pandas 2 keeps "us" or "s" from some sources).
    ns = d["timestamp"].dt.as_unit("ns").astype("int64")
    g = ns.groupby(gid)
    t0, t1, n = g.transform("min"), g.transform("max"), g.transform("size")
    span = (t1 - t0).astype("float64")
    ok = ((n >= min_points) & (span >= min_span.value)).to_numpy()
    d, gid, ns, t0, span, n = d[ok], gid[ok], ns[ok], t0[ok], span[ok], n[ok]
    if d.empty:
        return pd.DataFrame(columns=_GROUP + ["gid", "h", "v", "span", "timestamp"])
    nb = np.clip(n // 2, 2, BUCKETS)
    b = np.minimum(((ns - t0) / span * nb).astype("int64"), nb - 1)
    d = d.assign(gid=gid, h=(ns - t0) / 3.6e12, span=span / 3.6e12)
    idx = d["memory_working_set_bytes"].groupby([gid, b]).idxmax()
    peaks = d.loc[idx.to_numpy(), _GROUP + ["gid", "h", "span", "timestamp",
                                             "memory_working_set_bytes"]]
    return peaks.rename(columns={"memory_working_set_bytes": "v"}).sort_values(["gid", "h"])


def fit_peaks(h: np.ndarray, v: np.ndarray, span: float,
              last_time: pd.Timestamp) -> Growth | None:
    """The steady growth of one instance's peak envelope, or None (see the module docstring)."""
    recent = h >= span / 2
    if recent.sum() < 6:
        return None
    x, y = h[recent], v[recent]
    if np.ptp(y) == 0:
        return None
    tail = h >= span * 0.75
    if not _may_rise(x, y, h[tail], v[tail]):
        return None
    slope, intercept, low, high = stats.theilslopes(y, x, alpha=0.90)
    tau = stats.kendalltau(x, y).statistic
    tail_slope = stats.theilslopes(v[tail], h[tail])[0] if tail.sum() >= 3 else 0.0
    if not (low > 0 and tau >= MIN_TAU and tail_slope > 0):
        return None
    return Growth(slope_bytes_per_hour=float(slope), low=float(low), high=float(high),
                  level_bytes=float(intercept + slope * span),
                  first_bytes=float(intercept + slope * x.min()),
                  hours=float(span - x.min()), last_time=last_time)


_Z = float(stats.norm.ppf(0.05))  # theilslopes' z for alpha=0.90


def _may_rise(x: np.ndarray, y: np.ndarray, tx: np.ndarray, ty: np.ndarray) -> bool:
    """False when the fit cannot pass: the tail's Theil–Sen slope is not positive or the low
    end of the slope's 90 % interval is not above zero, computed as ``stats.theilslopes``
    does (same pairwise slopes, same order statistics) without its per-call overhead; a fleet
    has thousands of candidates and most stop here."""
    if len(tx) >= 3 and not np.median(_slopes(tx, ty)) > 0:
        return False
    s = _slopes(x, y)
    n = len(y)
    sigsq = 1 / 18. * (n * (n - 1) * (2 * n + 5) - _ties(x) - _ties(y))
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(sigsq)
    if not np.isfinite(sigma) or not len(s):
        return True  # theilslopes decides
    low = s[max(int(np.round((len(s) + _Z * sigma) / 2.)) - 1, 0)]
    return bool(low > 0)


def _slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    dx, dy = x[:, np.newaxis] - x, y[:, np.newaxis] - y
    return np.sort(dy[dx > 0] / dx[dx > 0])


def _ties(a: np.ndarray) -> int:
    _, k = np.unique(np.asarray(a, dtype=float), return_counts=True)
    k = k[k > 1]
    return int(sum(int(c) * (int(c) - 1) * (2 * int(c) + 5) for c in k))


def memory_growth(ctx: Context) -> list[Finding]:
    u, p = ctx.usage, ctx.policy
    if ctx.digest is not None:  # accumulated from the store day by day
        peaks = ctx.digest.envelope
    elif u.empty:
        return []
    else:
        peaks = peak_envelope(u, min_points=p.growth_min_points, min_span=p.growth_min_span)
    if peaks.empty:
        return []
    # Cheap screen before any fit: the recent peaks must rise by a material amount.
    recent = peaks[peaks["h"] >= peaks["span"] / 2]
    gr = recent.groupby("gid")["v"]
    rising = (gr.max() - gr.min()) >= MIN_RISE_BYTES
    quarter = recent["h"] >= recent["span"] * 0.75
    late = recent[quarter].groupby("gid")["v"].median()
    early = recent[~quarter].groupby("gid")["v"].median()
    later = late > early.reindex(late.index)
    candidates = set(rising[rising].index) & set(later[later].index)
    best: dict[ContainerKey, Growth] = {}
    # Plain arrays per candidate: pandas indexing per group costs more than the fits.
    cand = peaks[peaks["gid"].isin(candidates)].sort_values(["gid", "h"], kind="stable")
    gid = cand["gid"].to_numpy()
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]]) if len(gid) else gid
    ends = np.r_[starts[1:], len(gid)] if len(gid) else gid
    h, v, span = (cand[c].to_numpy("float64") for c in ("h", "v", "span"))
    ns = pd.to_datetime(cand["timestamp"], utc=True).dt.as_unit("ns").astype("int64").to_numpy()
    names = [cand[c].astype(str).to_numpy() for c in _GROUP[:3]]
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        growth = fit_peaks(h[a:b], v[a:b], float(span[a]),
                           pd.Timestamp(int(ns[a:b].max()), tz="UTC"))
        key = ContainerKey(*(str(n[a]) for n in names))
        if growth is not None and (key not in best or growth.slope_bytes_per_hour
                                   > best[key].slope_bytes_per_hour):
            best[key] = growth
    out = []
    for key, growth in sorted(best.items()):
        f = _growth_finding(ctx, key, growth)
        if f is not None:
            out.append(f)
    return out


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
