"""Per-container statistics over millions of usage rows, with integer codes and numpy.

Grouping 4 M rows by three Arrow-backed string columns in pandas costs seconds per pass, so
the containers are coded once (:class:`KeyIndex`) and everything else is numpy over one sort.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS, ContainerKey
from quotatune.rollup.keys import codes


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
    every day to :meth:`add_first` (counts, spans, steps, maxima per container and pod), then
    every day again to :meth:`add_second` (the values above each container's 95th-percentile
    rank, all that the interpolated p95 needs), then take :meth:`stats`.  Memory: per pod and
    per distinct sampling step, plus the top 5 % of CPU values."""

    COLUMNS = [*KEY_COLUMNS, "pod", "timestamp", "cpu_cores", "memory_working_set_bytes"]

    def __init__(self) -> None:
        self._runs: list[pd.DataFrame] = []
        self._steps: list[pd.DataFrame] = []
        self._last: dict[tuple[str, ...], int] = {}  # newest sample per pod so far
        self._top: list[pd.DataFrame] = []
        self._m: pd.Series | None = None

    def add_first(self, day: pd.DataFrame) -> None:
        code, names = codes(day, [*KEY_COLUMNS, "pod"])
        ts = day["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        order = np.lexsort((ts, code))
        c, t = code[order], ts[order]
        start = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        end = np.r_[start[1:], len(c)]
        runs = names.iloc[c[start]].reset_index(drop=True)
        cpu = day["cpu_cores"].to_numpy("float64")[order]
        mem = day["memory_working_set_bytes"].to_numpy("float64")[order]
        runs = runs.assign(n=end - start, tmin=t[start], tmax=t[end - 1],
                           cpu_max=np.maximum.reduceat(cpu, start),
                           mem_max=np.maximum.reduceat(mem, start))
        self._runs.append(runs)
        # Steps within the day, and from each pod's last sample of an earlier day.
        dt = np.diff(t)
        ok = (c[1:] == c[:-1]) & (dt > 0)
        step_run = np.searchsorted(start, np.flatnonzero(ok) + 1, side="right") - 1
        keys = [tuple(k) for k in runs[[*KEY_COLUMNS, "pod"]].itertuples(index=False)]
        prev = np.array([self._last.get(k, -1) for k in keys], dtype=np.int64)
        gap = t[start] - prev
        cross = (prev >= 0) & (gap > 0)
        self._last.update(zip(keys, t[end - 1].tolist(), strict=True))
        steps = pd.DataFrame({"run": np.r_[step_run, np.flatnonzero(cross)],
                              "dt": np.r_[dt[ok], gap[cross]]})
        steps = steps.assign(**{k: runs[k].to_numpy()[steps["run"].to_numpy()]
                                for k in KEY_COLUMNS})
        self._steps.append(steps.groupby([*KEY_COLUMNS, "dt"]).size().rename("count")
                           .reset_index())

    def _totals(self) -> pd.DataFrame:
        runs = pd.concat(self._runs, ignore_index=True)
        per_pod = runs.groupby([*KEY_COLUMNS, "pod"], sort=False).agg(
            n=("n", "sum"), tmin=("tmin", "min"), tmax=("tmax", "max"))
        per_pod["span_s"] = (per_pod["tmax"] - per_pod["tmin"]) / 1e9
        g = per_pod.groupby(level=list(range(len(KEY_COLUMNS))), sort=False)
        out = g.agg(samples=("n", "sum"), pods=("n", "size"), first=("tmin", "min"),
                    last=("tmax", "max"), span_s=("span_s", "sum"))
        mx = runs.groupby(KEY_COLUMNS, sort=False)[["cpu_max", "mem_max"]].max(skipna=False)
        return out.join(mx)

    def add_second(self, day: pd.DataFrame) -> None:
        if self._m is None:
            t = self._totals()
            # One rank more than floor(0.95 (n - 1)) needs: numpy computes that index in
            # floating point its own way.
            self._m = np.minimum(t["samples"] - np.floor(0.95 * (t["samples"] - 1))
                                 .astype(np.int64) + 1, t["samples"])
        code, names = codes(day, KEY_COLUMNS)
        m = self._m.reindex(pd.MultiIndex.from_frame(names)).fillna(0).to_numpy(np.int64)
        cpu = day["cpu_cores"].to_numpy("float64")
        order = np.lexsort((-cpu, code))
        c = code[order]
        start = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        rank = np.arange(len(c)) - np.repeat(start, np.diff(np.r_[start, len(c)]))
        keep = order[rank < m[c]]
        self._top.append(names.iloc[code[keep]].reset_index(drop=True).assign(v=cpu[keep]))

    def stats(self) -> pd.DataFrame:
        """The frame :func:`container_stats` gives for all the days fed."""
        if not self._runs:
            return pd.DataFrame()
        t = self._totals()
        steps = pd.concat(self._steps, ignore_index=True).groupby(
            [*KEY_COLUMNS, "dt"])["count"].sum()
        t["step_s"] = pd.Series({k: _weighted_median(g.index.get_level_values("dt").to_numpy(),
                                                     g.to_numpy())
                                 for k, g in steps.groupby(level=KEY_COLUMNS)}, dtype="float64")
        expected = t["span_s"] / t["step_s"] + t["pods"]
        with np.errstate(invalid="ignore", divide="ignore"):
            t["complete"] = np.minimum(t["samples"] / expected, 1.0)
        t["cpu_p95"] = self._p95(t)
        t["first"] = pd.to_datetime(t["first"].to_numpy(), utc=True)
        t["last"] = pd.to_datetime(t["last"].to_numpy(), utc=True)
        return t[["samples", "pods", "first", "last", "cpu_max", "mem_max", "cpu_p95",
                  "step_s", "complete"]]

    def _p95(self, t: pd.DataFrame) -> np.ndarray:
        top = pd.concat(self._top, ignore_index=True) if self._top else None
        out = np.full(len(t), np.nan)
        if top is None or top.empty:
            return out
        pos = {k: i for i, k in enumerate(t.index)}
        for k, g in top.groupby(KEY_COLUMNS, sort=False):
            i = pos[k]
            n, m = int(t["samples"].iloc[i]), int(self._m.iloc[i])  # type: ignore[union-attr]
            if np.isnan(t["cpu_max"].iloc[i]):
                continue
            v = np.sort(g["v"].to_numpy())[-m:]
            # Only ranks >= floor(0.95 (n - 1)) matter; the rest is padding below them.
            out[i] = np.quantile(np.r_[np.full(n - len(v), v[0]), v], 0.95)
        return out


def _weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """``np.median`` of ``values`` repeated ``counts`` times, without repeating them."""
    order = np.argsort(values, kind="stable")
    v, cum = values[order] / 1e9, np.cumsum(counts[order])
    total = int(cum[-1])
    lo = v[np.searchsorted(cum, (total - 1) // 2, side="right")]
    hi = v[np.searchsorted(cum, total // 2, side="right")]
    return float(np.median(np.array([lo, hi])))
