"""Per-container statistics over millions of usage rows, with integer codes and numpy.

Grouping 4 M rows by three Arrow-backed string columns in pandas costs seconds per pass, so
the containers are coded once (:class:`KeyIndex`) and everything else is numpy over one sort.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS, ContainerKey
from quotatune.rollup import sketch
from quotatune.rollup.keys import codes
from quotatune.rollup.namehash import HashIds, pod_hashes


class KeyIndex:
    """Row positions of each container in a usage frame, computed once with integer codes
    (grouping 4 M rows by three Arrow string columns in pandas takes seconds per pass)."""

    def __init__(self, usage: pd.DataFrame) -> None:
        codes = [pd.factorize(usage[c], sort=False) for c in KEY_COLUMNS]
        combined = np.zeros(len(usage), dtype=np.int64)
        for c, uniques in codes:
            combined = combined * (len(uniques) + 1) + c
        ids, self.inverse = _dense_ids(combined)
        first = np.zeros(len(ids), dtype=np.int64)
        first[self.inverse[::-1]] = np.arange(len(usage))[::-1]
        names = [[str(u) for u in np.asarray(uniques, dtype=object)[c[first]]]
                 for c, uniques in codes]
        self.keys = [ContainerKey(*k) for k in zip(*names, strict=True)]
        self.order = np.argsort(self.inverse, kind="stable")
        self.bounds = np.r_[0, np.cumsum(np.bincount(self.inverse, minlength=len(ids)))]
        self._pos = {k: i for i, k in enumerate(self.keys)}

    def rows(self, key: ContainerKey) -> np.ndarray:
        i = self._pos[key]
        return self.order[self.bounds[i]:self.bounds[i + 1]]


def _dense_ids(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` without sorting when the code space is small
    enough for a lookup table (it is, for any real fleet)."""
    space = int(codes.max()) + 1 if len(codes) else 0
    if space > 50_000_000:
        return np.unique(codes, return_inverse=True)
    present = np.zeros(space, dtype=bool)
    present[codes] = True
    ids = np.flatnonzero(present)
    lookup = np.cumsum(present) - 1
    return ids, lookup[codes]


def _run_quantile(v: np.ndarray, starts: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolated quantile (pandas' default) of each run ``v[starts[i]:starts[i+1]]``.
    A loop over containers with one small numpy call each beats one global sort of 4 M rows."""
    ends = np.r_[starts[1:], len(v)]
    return np.array([np.quantile(v[a:b], q) if b > a else np.nan
                     for a, b in zip(starts.tolist(), ends.tolist(), strict=True)])


def container_stats(usage: pd.DataFrame, index: KeyIndex | None = None) -> pd.DataFrame:
    """Per container: samples, pods, first/last, median step, completeness, p95/max."""
    if usage.empty:
        return pd.DataFrame()
    ix = index or KeyIndex(usage)
    n = len(ix.keys)
    gid = ix.inverse
    ts = usage["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    cpu = usage["cpu_cores"].to_numpy(dtype="float64")
    mem = usage["memory_working_set_bytes"].to_numpy(dtype="float64")
    pod_codes, _ = pd.factorize(usage["pod"], sort=False)
    # Rows ordered by (container, pod, time): steps and spans are taken within one pod.  One
    # argsort of a packed int64 (pod run, whole seconds) is several times faster than lexsort.
    run = gid.astype(np.int64) * (int(pod_codes.max()) + 1) + pod_codes
    secs = (ts - ts.min()) // 10**9
    if int(run.max()) < (1 << 62) >> max(int(secs.max()), 1).bit_length():
        order = np.argsort((run << max(int(secs.max()), 1).bit_length()) | secs, kind="stable")
    else:
        order = np.lexsort((ts, pod_codes, gid))
    g, p, t = gid[order], pod_codes[order], ts[order]
    new_pod = np.r_[True, (g[1:] != g[:-1]) | (p[1:] != p[:-1])]
    pod_start = np.flatnonzero(new_pod)
    pod_end = np.r_[pod_start[1:], len(t)] - 1
    pod_gid = g[pod_start]
    span_s = (t[pod_end] - t[pod_start]) / 1e9
    # Every container has rows, so each group is one non-empty run of the sorted order.
    gstart = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    dt = np.r_[np.nan, np.diff(t) / 1e9]
    dt[new_pod | ~(dt > 0)] = np.nan
    step = np.array([np.nanmedian(x) if np.isfinite(x).any() else np.nan
                     for x in np.split(dt, gstart[1:])])
    samples = np.bincount(gid, minlength=n)
    pods = np.bincount(pod_gid, minlength=n)
    expected = np.bincount(pod_gid, weights=span_s, minlength=n) / step + pods
    with np.errstate(invalid="ignore", divide="ignore"):
        complete = np.minimum(samples / expected, 1.0)
    first = np.minimum.reduceat(t, gstart)
    last = np.maximum.reduceat(t, gstart)
    cpu_max = np.maximum.reduceat(cpu[order], gstart)
    mem_max = np.maximum.reduceat(mem[order], gstart)
    return pd.DataFrame({
        "samples": samples, "pods": pods,
        "first": pd.to_datetime(first, utc=True), "last": pd.to_datetime(last, utc=True),
        "cpu_max": cpu_max, "mem_max": mem_max,
        "cpu_p95": _run_quantile(cpu[order], gstart, 0.95),
        "step_s": step, "complete": complete,
    }, index=pd.MultiIndex.from_tuples(ix.keys, names=KEY_COLUMNS))


class StatsBuilder:
    """:func:`container_stats` accumulated day by day, for a store too large to load: feed
    every day to :meth:`add_first` (counts, spans, steps, maxima per pod) and to
    :meth:`add_second` (the CPU values at or above each container's p95 bucket, all that the
    interpolated p95 needs) — :meth:`add_day` does both — then take :meth:`stats`.
    ``p95_bucket``: per container, a fine CPU bucket (:mod:`quotatune.rollup.sketch`) at or
    below the rank the p95 needs, from its rollups.  Memory: per pod and per distinct
    sampling step, plus those values."""

    COLUMNS = [*KEY_COLUMNS, "pod", "timestamp", "cpu_cores", "memory_working_set_bytes"]

    def __init__(self, p95_bucket: dict[ContainerKey, int]) -> None:
        self._floor = p95_bucket
        self._ids: dict[tuple[str, ...], int] = {}  # container -> id
        self._pods = HashIds()  # container and pod -> id, by their names' hash
        self._pod_owner = np.empty(0, dtype=np.int64)  # container id of each pod
        self._last = np.empty(0, dtype=np.int64)  # newest sample per pod so far
        self._runs: list[np.ndarray] = []
        self._steps: list[np.ndarray] = []
        self._top: list[np.ndarray] = []

    def _id(self, table: dict[tuple[str, ...], int], names: pd.DataFrame) -> np.ndarray:
        """The id of each row of ``names``, new names numbered on; a dict lookup per
        distinct name of a day (thousands), never per sample."""
        tuples = list(zip(*(names[c].tolist() for c in names.columns), strict=True))
        return np.fromiter((table.setdefault(k, len(table)) for k in tuples),
                           dtype=np.int64, count=len(tuples))

    def add_first(self, day: pd.DataFrame) -> None:
        if day.empty:  # a day a filter emptied: nothing to count (reduceat needs a row)
            return
        code, names = codes(day, [*KEY_COLUMNS, "pod"])
        pod_ids = self._pods(pod_hashes(names))
        grow = len(self._pods) - len(self._pod_owner)
        self._pod_owner = np.r_[self._pod_owner, np.zeros(grow, dtype=np.int64)]
        self._last = np.r_[self._last, np.full(grow, -1, dtype=np.int64)]
        owners = self._pod_owner
        owners[pod_ids] = self._id(self._ids, names[KEY_COLUMNS])
        ts = day["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        order = _pod_time_order(code, ts)
        p = pod_ids[code] if order is None else pod_ids[code[order]]
        t = ts if order is None else ts[order]
        start = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
        end = np.r_[start[1:], len(p)]
        cpu = day["cpu_cores"].to_numpy("float64")
        mem = day["memory_working_set_bytes"].to_numpy("float64")
        if order is not None:
            cpu, mem = cpu[order], mem[order]
        self._runs.append(np.c_[p[start], end - start, t[start], t[end - 1],
                                np.maximum.reduceat(cpu, start).view(np.int64),
                                np.maximum.reduceat(mem, start).view(np.int64)])
        # Steps within the day, and from each pod's last sample of an earlier day.
        dt = np.diff(t)
        ok = (p[1:] == p[:-1]) & (dt > 0)
        last = self._last
        prev = last[p[start]]
        gap = t[start] - prev
        cross = (prev >= 0) & (gap > 0)
        last[p[start]] = t[end - 1]
        self._steps.append(_step_counts(np.r_[owners[p[1:][ok]], owners[p[start][cross]]],
                                        np.r_[dt[ok], gap[cross]]))

    def add_day(self, day: pd.DataFrame) -> None:
        """Both steps at once: the p95 floors are known before the first day (the rollups)."""
        self.add_first(day)
        self.add_second(day)

    def add_second(self, day: pd.DataFrame) -> None:
        if day.empty:
            return
        code, names = codes(day, KEY_COLUMNS)
        ids = self._id(self._ids, names)
        floor = np.array([self._floor.get(ContainerKey(*k), 0)
                          for k in names.itertuples(index=False)], dtype=np.int64)
        cpu = day["cpu_cores"].to_numpy("float64")
        keep = sketch.bucket_index(cpu, sketch.CPU_FIRST) >= floor[code]
        self._top.append(np.c_[ids[code[keep]], cpu[keep].view(np.int64)])

    def stats(self) -> pd.DataFrame:
        """The frame :func:`container_stats` gives for all the days fed."""
        if not self._runs:
            return pd.DataFrame()
        n_c = len(self._ids)
        runs = np.concatenate(self._runs)
        pid = runs[:, 0]
        n_p = len(self._pods)
        owner = self._pod_owner
        samples_p = np.bincount(pid, weights=runs[:, 1], minlength=n_p)
        tmin = np.full(n_p, np.iinfo(np.int64).max)
        np.minimum.at(tmin, pid, runs[:, 2])
        tmax = np.full(n_p, np.iinfo(np.int64).min)
        np.maximum.at(tmax, pid, runs[:, 3])
        seen = samples_p > 0
        span_s = np.where(seen, (tmax - tmin) / 1e9, 0.0)
        samples = np.bincount(owner, weights=samples_p, minlength=n_c).astype(np.int64)
        pods = np.bincount(owner[seen], minlength=n_c)
        first = np.full(n_c, np.iinfo(np.int64).max)
        np.minimum.at(first, owner[seen], tmin[seen])
        last = np.full(n_c, np.iinfo(np.int64).min)
        np.maximum.at(last, owner[seen], tmax[seen])
        cid = owner[pid]
        cpu_max, mem_max = (_max_nan(cid, runs[:, k].view(np.float64), n_c) for k in (4, 5))
        step = _steps_median(np.concatenate(self._steps), n_c)
        expected = np.bincount(owner, weights=span_s, minlength=n_c) / step + pods
        with np.errstate(invalid="ignore", divide="ignore"):
            complete = np.minimum(samples / expected, 1.0)
        keys = [ContainerKey(*k) for k in self._ids]
        out = pd.DataFrame({
            "samples": samples, "pods": pods,
            "first": pd.to_datetime(first, utc=True), "last": pd.to_datetime(last, utc=True),
            "cpu_max": cpu_max, "mem_max": mem_max,
            "cpu_p95": self._p95(samples, cpu_max, n_c), "step_s": step, "complete": complete,
        }, index=pd.MultiIndex.from_tuples(keys, names=KEY_COLUMNS))
        return out[samples > 0]

    def _p95(self, samples: np.ndarray, cpu_max: np.ndarray, n_c: int) -> np.ndarray:
        out = np.full(n_c, np.nan)
        if not self._top:
            return out
        top = np.concatenate(self._top)
        cid, v = top[:, 0], top[:, 1].view(np.float64)
        order = np.lexsort((v, cid))
        cid, v = cid[order], v[order]
        bounds = np.searchsorted(cid, np.arange(n_c + 1))
        # np.quantile(full, 0.95) of each container, where ``full`` is its kept values (the
        # top of its samples, sorted) below a padding of kept[0] up to its sample count:
        # numpy's "linear" method, step by step, for every container at once.
        ok = np.flatnonzero((samples > 0) & ~np.isnan(cpu_max) & (np.diff(bounds) > 0))
        if not len(ok):
            return out
        total = samples[ok].astype(np.int64)
        pad = total - np.diff(bounds)[ok]
        index = (total - 1) * 0.95
        below = np.floor(index)
        gamma = index - below
        lo = below.astype(np.int64)
        hi = np.minimum(lo + 1, total - 1)

        def at(rank: np.ndarray) -> np.ndarray:
            return v[bounds[ok] + np.maximum(rank - pad, 0)]

        a, b = at(lo), at(hi)
        diff = b - a
        out[ok] = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
        return out


def _pod_time_order(code: np.ndarray, ts: np.ndarray) -> np.ndarray | None:
    """The order that groups rows by pod and sorts each pod by time; None when the rows are
    so already, as the store writes a day (sorted by container, pod and time)."""
    if len(code) < 2:
        return None
    same = code[1:] == code[:-1]
    # Codes number pods by first appearance: non-decreasing codes are contiguous runs.
    if (code[1:] >= code[:-1]).all() and (ts[1:][same] >= ts[:-1][same]).all():
        return None
    return np.lexsort((ts, code))


def _step_counts(owner: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """(container, step in ns, count) rows of the steps ``dt`` seen for ``owner``: a few
    distinct steps per fleet, so counted by a bincount over (owner, step code)."""
    if not len(dt):
        return np.empty((0, 3), dtype=np.int64)
    step_code, steps = pd.factorize(dt)
    key = owner * len(steps) + step_code
    if int(key.max()) < 50_000_000:  # the usual case: a lookup table, no sort
        counts = np.bincount(key)
        present = np.flatnonzero(counts)
        counts = counts[present]
    else:
        present, counts = np.unique(key, return_counts=True)
    return np.c_[present // len(steps), steps[present % len(steps)], counts].astype(np.int64)


def _max_nan(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per group maximum; NaN if any value is NaN (as ``np.maximum.reduceat``)."""
    out = np.full(n, -np.inf)
    np.maximum.at(out, group, values)
    return out


def _steps_median(steps: np.ndarray, n: int) -> np.ndarray:
    """Per container, ``np.nanmedian`` of its sampling steps, from (container, step in ns,
    count) rows."""
    out = np.full(n, np.nan)
    if not len(steps):
        return out
    steps = steps[np.lexsort((steps[:, 1], steps[:, 0]))]
    bounds = np.searchsorted(steps[:, 0], np.arange(n + 1))
    width = np.diff(bounds)
    one = np.flatnonzero(width == 1)  # most containers keep one step: it is their median
    out[one] = steps[bounds[one], 1] / 1e9
    for i in np.flatnonzero(width > 1).tolist():
        a, b = bounds[i], bounds[i + 1]
        out[i] = _weighted_median(steps[a:b, 1], steps[a:b, 2])
    return out


def _weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """``np.median`` of ``values`` (ns) repeated ``counts`` times, in seconds."""
    order = np.argsort(values, kind="stable")
    v, cum = values[order] / 1e9, np.cumsum(counts[order])
    total = int(cum[-1])
    lo = v[np.searchsorted(cum, (total - 1) // 2, side="right")]
    hi = v[np.searchsorted(cum, total // 2, side="right")]
    return float(np.median(np.array([lo, hi])))
