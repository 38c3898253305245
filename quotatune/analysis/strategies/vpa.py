"""The Kubernetes VPA recommender's published algorithm (defaults of vertical-pod-autoscaler
``recommender``), computed on the rollups:

* CPU: p90 of a histogram of samples with buckets from 0.01 core growing 5 %, each sample
  weighted ``2 ** (t / 24 h)`` (half-life 24 h); the percentile is the *end* of the bucket
  where the cumulative weight reaches 90 %.  The samples of all the container's pods go into
  the one histogram.
* Memory: every container instance (pod) adds one peak per 24 h window to a histogram with
  buckets from 1e7 bytes growing 5 %, weighted by the window's end in real time (half-life
  24 h); p90.  Every OOM kill adds ``max(used + 100 MiB, used * 1.2)`` to its pod's window,
  ``used = max(request, that pod's peak so far in the window)``; a window keeps the highest
  of its peak and its kills' bumps (one value per window, as the recommender's
  ContainerState does), and a kill before the pod's first sample is discarded as too old.
* Both targets x 1.15 safety margin; at least the pod minimums 25m and 250 MiB, split evenly
  over the pod's containers (the recommender scales them by 1 / containers per pod and cuts
  the result to whole millicores and bytes).
* Limits keep the current limit/request ratio; without a known ratio there is no limit.

Differences from the live recommender, stated so a reviewer can check them: windows are UTC
days (VPA's start at the pod's first sample), and the peak "so far" at a kill is read to the
end of the kill's hour (the rollups keep hourly peaks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from quotatune.analysis.policy import Policy
from quotatune.analysis.strategies.base import (
    MIN_MEM_STEP,
    Evidence,
    Sizing,
    empty_reasons,
    fmt_cpu,
    fmt_mem,
    ratio_limit,
)
from quotatune.analysis.summary import (
    VPA_NBUCKETS,
    History,
    coarse_quantile_bucket,
    quantile_bucket,
)
from quotatune.model.units import MIB
from quotatune.rollup import sketch

PERCENTILE = 0.9
MARGIN = 0.15
POD_MIN_CPU_MILLICORES = 25  # --pod-recommendation-min-cpu-millicores
POD_MIN_MEMORY_MB = 250  # --pod-recommendation-min-memory-mb (MiB: the flag is x 1024 x 1024)
OOM_RATIO = 1.2
HOUR_NS = 3_600 * 10**9


@dataclass(frozen=True)
class WindowPeaks:
    """Memory values of pods' windows, in order of pod, then day: the pod's row in
    ``History.pods``, the window's day (a column of ``History.days``), its value (NaN: none)."""

    pod: np.ndarray
    day: np.ndarray
    value: np.ndarray


def vpa_bucket_end(bucket: np.ndarray, first: float) -> np.ndarray:
    """VPA's percentile value: the end of the bucket (the start of the last one)."""
    b = np.where(bucket < VPA_NBUCKETS - 1, bucket + 1, bucket)
    return np.asarray(sketch.bucket_start(b, first, fine=sketch.FINE))


def containers_per_pod(h: History) -> np.ndarray:
    """Per container: how many containers its workload's pods run (those in the history)."""
    wl = h.keys.groupby(["namespace", "workload"], sort=False, dropna=False)["container"].transform(
        "size")
    return wl.to_numpy("int64")


def pod_minimums(per_pod: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The recommender's per-container floors (cores, bytes): the pod minimums scaled by
    1 / containers per pod, truncated to whole millicores and bytes as its amounts are."""
    cpu = np.floor(POD_MIN_CPU_MILLICORES / per_pod) / 1000.0
    mem = np.floor(POD_MIN_MEMORY_MB * MIB / per_pod)
    return cpu, mem


def pod_window_peaks(h: History, ev: Evidence) -> tuple[WindowPeaks, np.ndarray, np.ndarray]:
    """One memory value per pod and UTC-day window: the pod's peak, raised by the bump of
    every OOM kill in that window.  Returns (the windows; the container row of each pod; the
    number of kills counted per container).  Only windows with rows or kills are held: a
    pods x days table grew with a CronJob's pods times the days (half a GiB for a month)."""
    pods, owner = h.pods
    code, day = pods.day_rows
    ndays = max(len(pods.days), 1)
    keys, inv = np.unique(code * ndays + day, return_inverse=True)
    value = np.full(len(keys), np.nan)
    np.fmax.at(value, inv, pods.row_values("mem_max"))
    counted = np.zeros(h.size, "int64")
    kills = ev.oom_kills
    if len(kills.container) == 0:
        return WindowPeaks(keys // ndays, keys % ndays, value), owner, counted
    found = [(int(c), _pod_of_kill(pods, owner, int(c), str(name), t), t)
             for c, name, t in zip(kills.container, kills.pod, kills.at_ns, strict=True)]
    # The hours and requests of the pods that were killed only (one line per pod of every
    # pod grew with a CronJob's pods).
    hit = np.unique([p for _, p, _ in found if p >= 0]).astype("int64")
    hourly = pods.hourly_peaks_of(hit)
    request = _pod_day_requests(pods, hit)
    added: dict[int, float] = {}  # windows with a kill and no rows
    for c, p, t in found:
        if p < 0 or np.isnan(t) or t < pods.t_first[p]:
            continue  # no pod, no time, or before the pod's first sample: VPA drops it
        d = int(np.searchsorted(h.days, t, side="right")) - 1
        hour = int((t - h.days[d]) // HOUR_NS)
        i = int(np.searchsorted(hit, p))
        so_far = hourly[i, d * 24: d * 24 + min(hour, 23) + 1]
        peak = float(np.nanmax(so_far)) if np.isfinite(so_far).any() else 0.0
        req = request[i, d] if np.isfinite(request[i, d]) else np.nan_to_num(ev.mem_request[c])
        used = max(float(req), peak)
        bump = max(used + MIN_MEM_STEP, used * OOM_RATIO)
        k = p * ndays + d
        at = int(np.searchsorted(keys, k))
        if at < len(keys) and keys[at] == k:
            value[at] = np.fmax(value[at], bump)
        else:
            added[k] = float(np.fmax(added.get(k, np.nan), bump))
        counted[c] += 1
    if added:
        new = np.fromiter(added, dtype="int64", count=len(added))
        keys = np.concatenate([keys, new])
        value = np.concatenate([value, np.fromiter(added.values(), dtype="float64")])
        order = np.argsort(keys, kind="stable")
        keys, value = keys[order], value[order]
    return WindowPeaks(keys // ndays, keys % ndays, value), owner, counted


def _pod_of_kill(pods: History, owner: np.ndarray, c: int, name: str, t: float) -> int:
    """The pod the kill happened in: the named one, else the container's pod that was
    running last before the kill (-1: the container has no pods in the history)."""
    mine = np.flatnonzero(owner == c)
    if len(mine) == 0:
        return -1
    named = mine[pods.keys["pod"].to_numpy(object)[mine] == name]
    if len(named):
        return int(named[0])
    started = mine[pods.t_first[mine] <= t] if np.isfinite(t) else mine
    pick = started if len(started) else mine
    return int(pick[np.argmax(pods.t_first[pick])])


def _pod_day_requests(pods: History, rows: np.ndarray) -> np.ndarray:
    """The memory request each pod of ``rows`` (sorted, distinct) had each day, as its
    samples say (NaN = not known)."""
    out = np.full((len(rows), len(pods.days)), np.nan)
    code, day = pods.day_rows
    pick = np.flatnonzero(np.isin(code, rows))
    np.fmax.at(out, (np.searchsorted(rows, code[pick]), day[pick]),
               pods.row_values("memory_request_bytes")[pick])
    return out


def memory_histogram(h: History, peaks: WindowPeaks, owner: np.ndarray) -> np.ndarray:
    """Per container, VPA's 5 % bucket histogram of its pods' window values, each weighted
    by its window's end in real time (half-life 24 h, relative to the newest window)."""
    ok = ~np.isnan(peaks.value)
    p, d = peaks.pod[ok], peaks.day[ok]
    w = np.exp2((h.days[d] - h.ref_day_ns) / 1e9 / sketch.HALF_LIFE_S)
    b = sketch.bucket_index(peaks.value[ok], sketch.MEM_FIRST) // sketch.FINE
    return np.bincount(owner[p] * VPA_NBUCKETS + b, weights=w,
                       minlength=h.size * VPA_NBUCKETS).reshape(h.size, VPA_NBUCKETS)


def _floor(values: np.ndarray, floor: np.ndarray, per_pod: np.ndarray, what: str,
           pod_min: str, unit: Callable[[float], str], reasons: list[list[str]]) -> np.ndarray:
    low = values < floor
    for i in np.flatnonzero(low):
        split = f" split over {per_pod[i]} containers" if per_pod[i] > 1 else ""
        reasons[i].append(f"{what} raised to the pod minimum {pod_min}{split} = "
                          f"{unit(floor[i])} (computed {unit(values[i])})")
    return np.where(low, floor, values)


def vpa(h: History, ev: Evidence, policy: Policy) -> Sizing:
    n = h.size
    reasons = empty_reasons(n)
    per_pod = containers_per_pod(h)
    min_cpu, min_mem = pod_minimums(per_pod)
    cpu_b = coarse_quantile_bucket(h, "cpu", PERCENTILE, decayed=True)
    cpu_p = vpa_bucket_end(cpu_b, sketch.CPU_FIRST)
    cpu = _floor(cpu_p * (1 + MARGIN), min_cpu, per_pod, "CPU",
                 f"{POD_MIN_CPU_MILLICORES}m", fmt_cpu, reasons)

    peaks, owner, counted = pod_window_peaks(h, ev)
    mem_p = vpa_bucket_end(quantile_bucket(memory_histogram(h, peaks, owner), PERCENTILE),
                           sketch.MEM_FIRST)
    mem = _floor(mem_p * (1 + MARGIN), min_mem, per_pod, "memory",
                 f"{POD_MIN_MEMORY_MB} MiB", fmt_mem, reasons)

    windows = np.bincount(owner[peaks.pod[~np.isnan(peaks.value)]], minlength=n)
    npods = np.bincount(owner, minlength=n)
    for i in range(n):
        pods = f" of {npods[i]} pods" if npods[i] > 1 else ""
        reasons[i][:0] = [
            f"CPU: p90 of {h.samples[i]} samples weighted by recency (half-life 24 h) is "
            f"{fmt_cpu(cpu_p[i])}; x1.15 margin = {fmt_cpu(cpu_p[i] * 1.15)}",
            f"memory: p90 of {int(windows[i])} daily peaks{pods} weighted by recency (half-life "
            f"24 h) is {fmt_mem(mem_p[i])} (highest peak {fmt_mem(h.mem_max[i])}); x1.15 "
            f"margin = {fmt_mem(mem_p[i] * 1.15)}",
        ]
        if counted[i]:
            reasons[i].append(
                f"{counted[i]} OOM kill(s), each counted in its pod's day as "
                "max(used + 100 MiB, used x 1.2)"
            )
    return Sizing(
        cpu_request=cpu,
        cpu_limit=ratio_limit(cpu, ev.cpu_request, ev.cpu_limit),
        mem_request=mem,
        mem_limit=ratio_limit(mem, ev.mem_request, ev.mem_limit),
        reasons=reasons,
    )

