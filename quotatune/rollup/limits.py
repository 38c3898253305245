"""Where each pod's memory limit changes, and the limit in force at an OOM kill.

A pod's limit is its own: when a rollout runs an old pod at 400 MiB beside a new one at
600 MiB and the old one is killed, it was killed at 400, whichever pod sampled last.  So a
kill that names a pod with samples takes that pod's last limit at or before the kill (its
first, if it was killed before its first sample: a pod's limit is fixed for its life).  A
kill without one takes its container's: the limit of the pod running at the kill (of
several, the one whose names hash larger, as everywhere: :mod:`quotatune.rollup.namehash`),
else of the pod seen last before it; for pods that run one after another, the container's
last sample at or before the kill.

The samples are reduced to each pod's first and last rows with a limit and the rows where
its limit takes a new value (a few a pod, where a week of samples is thousands), held as
plain arrays keyed by name hashes, so a stream keeps them chunk by chunk and a whole frame
reduces the same way: both give the same answer.  Chunks must not interleave one pod's
times (the overlap check's runs, or a whole day's samples at once, guarantee it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS, utc_ns
from quotatune.rollup.namehash import frame_hashes, pod_hashes

_COLUMNS = ("container", "pod", "t", "limit")


def _empty() -> dict[str, np.ndarray]:
    return {"container": np.empty(0, "int64"), "pod": np.empty(0, "int64"),
            "t": np.empty(0, "int64"), "limit": np.empty(0, "float64")}


@dataclass
class LimitChanges:
    """Each pod's first and last rows with a memory limit and those where it takes a new
    value: its container's and its own name hashes, the time (ns since the epoch, UTC) and
    the limit in bytes."""

    rows: dict[str, np.ndarray] = field(default_factory=_empty)

    def __len__(self) -> int:
        return len(self.rows["t"])

    @classmethod
    def of(cls, usage: pd.DataFrame, pod_runs: np.ndarray | None = None) -> LimitChanges:
        """The changes in ``usage`` (samples).  ``pod_runs`` (True where a pod's rows start,
        when every pod's rows are one run in time order) lets the rows be read as they
        stand; else they are sorted per pod."""
        if "memory_limit_bytes" not in usage.columns or usage.empty:
            return cls()
        v = usage["memory_limit_bytes"].to_numpy("float64")
        missing = np.isnan(v)
        if pod_runs is not None and not missing.any():
            # Every row has a limit (the usual export): the kept rows in one pass over the
            # runs, without gathering a million rows' pods and limits first (a chunk's
            # limit rows were 15 ms of --from's main thread, the rollup's is 25).
            keep = np.flatnonzero(_kept_runs(pod_runs, v))
        else:
            has = np.flatnonzero(~missing)
            if not len(has):
                return cls()
            if pod_runs is None:
                sub = usage.iloc[has]
                return cls.joined([cls({"container": frame_hashes(sub, KEY_COLUMNS),
                                        "pod": pod_hashes(sub), "t": utc_ns(sub["timestamp"]),
                                        "limit": v[has]})])
            keep = has[_kept(np.cumsum(pod_runs)[has], v[has])]
        sub = usage.iloc[keep]
        return cls({"container": frame_hashes(sub, KEY_COLUMNS), "pod": pod_hashes(sub),
                    "t": utc_ns(sub["timestamp"]), "limit": v[keep]})

    @classmethod
    def joined(cls, parts: list[LimitChanges]) -> LimitChanges:
        """``parts`` as one, each pod's rows in time order, only its first, its last and
        where its limit changes (a pod cut across chunks, or read twice, repeats rows).
        Rows of one pod and instant with two limits (a duplicated sample) sort by limit:
        the order of the input does not choose."""
        rows = {k: np.concatenate([p.rows[k] for p in parts]) if parts else _empty()[k]
                for k in _COLUMNS}
        order = np.lexsort((rows["limit"], rows["t"], rows["pod"]))
        keep = order[_kept(rows["pod"][order], rows["limit"][order])]
        return cls({k: rows[k][keep] for k in _COLUMNS})

    def seen_by(self, pods: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Whether each pod of ``pods`` (name hashes) has a row at or before the time of
        ``times`` (ns since the epoch, UTC) among these rows."""
        first = _first_seen(_pods(self.rows), pods) if len(self) else \
            np.full(len(pods), _NONE)
        return (first != _NONE) & (first <= times)

    def at(self, kills: pd.DataFrame) -> np.ndarray:
        """The limit in force at each kill of ``kills`` (names of
        :data:`quotatune.rollup.namehash.POD_KEY`, a ``timestamp``): the killed pod's last
        limit at or before it, else its container's (see the module's doc); NaN where
        neither is known."""
        out = np.full(len(kills), np.nan)
        if not len(self) or kills.empty:
            return out
        when = pd.to_datetime(kills["timestamp"], utc=True, errors="coerce")
        ok = when.notna().to_numpy()
        t = np.where(ok, when.to_numpy("datetime64[ns]").view("int64"), 0)
        named = np.zeros(len(kills), dtype=bool)
        if "pod" in kills.columns:
            pod = kills["pod"]
            named = ok & pod.notna().to_numpy() & (pod.astype(object).astype(str).to_numpy()
                                                   != "")
        r = self.rows
        pods = _pods(r)
        if named.any():
            wanted, when_named = pod_hashes(kills[named]), t[named]
            got = _last_at(r["pod"], r["t"], r["limit"], wanted, when_named)
            # Killed before its first sample (a pod's limit is fixed for its life): its
            # first limit, not another pod's.
            first = _first_seen(pods, wanted)
            early = np.isnan(got) & (first != _NONE)
            got[early] = _last_at(r["pod"], r["t"], r["limit"], wanted[early], first[early])
            out[named] = got
        rest = np.flatnonzero(ok & np.isnan(out))
        if len(rest):
            want, at = frame_hashes(kills.iloc[rest], KEY_COLUMNS), t[rest]
            los = np.searchsorted(pods["container"], want, side="left")
            his = np.searchsorted(pods["container"], want, side="right")
            # A container of one pod (most of a fleet): that pod, once it has begun.
            one = np.flatnonzero(his - los == 1)
            chosen = np.full(len(rest), _NONE)
            chosen[one] = np.where(pods["first"][los[one]] <= at[one], pods["pod"][los[one]],
                                   _NONE)
            many = np.flatnonzero(his - los > 1)
            order = many[np.argsort(want[many], kind="stable")]
            w = want[order]
            starts = np.flatnonzero(np.r_[True, w[1:] != w[:-1]])[:len(w)]
            for a, b in zip(starts, [*starts[1:], len(w)][:len(starts)], strict=True):
                lo, hi, mine = los[order[a]], his[order[a]], order[a:b]
                chosen[mine] = _running(pods["first"][lo:hi], pods["last"][lo:hi],
                                        pods["pod"][lo:hi], at[mine])
            found = chosen != _NONE
            out[rest[found]] = _last_at(r["pod"], r["t"], r["limit"], chosen[found],
                                        at[found])
        return out


_NONE = np.iinfo("int64").min  # no pod: a hash of exactly this value is not to be met


def _kept(pod: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Of rows grouped by pod in time order: each pod's first and last, and every row whose
    limit differs from the row before."""
    if not len(pod):
        return np.zeros(0, dtype=bool)
    start = np.r_[True, pod[1:] != pod[:-1]]
    end = np.r_[start[1:], True]
    return start | end | np.r_[True, limit[1:] != limit[:-1]]


def _kept_runs(pod_runs: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """:func:`_kept` for rows whose pods are runs (``pod_runs``: True where one starts,
    always on the first row), every row with a limit."""
    keep = pod_runs.copy()
    keep[:-1] |= pod_runs[1:]
    keep[-1] = True
    keep[1:] |= limit[1:] != limit[:-1]
    return keep


def _pods(r: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per pod (rows sorted by container, then pod): its container, its hash, its
    first and last times."""
    order = np.lexsort((r["t"], r["pod"], r["container"]))
    pod = r["pod"][order]
    start = np.flatnonzero(np.r_[True, pod[1:] != pod[:-1]])
    end = np.r_[start[1:], len(order)] - 1
    return {"container": r["container"][order][start], "pod": pod[start],
            "first": r["t"][order][start], "last": r["t"][order][end]}


def _first_seen(pods: dict[str, np.ndarray], want: np.ndarray) -> np.ndarray:
    """Each wanted pod's first time; :data:`_NONE` for a pod without rows."""
    order = np.argsort(pods["pod"], kind="stable")
    keys = pods["pod"][order]
    at = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
    hit = (keys[at] == want) if len(keys) else np.zeros(len(want), dtype=bool)
    return np.where(hit, pods["first"][order][at], _NONE) if len(keys) else \
        np.full(len(want), _NONE)


def _running(first: np.ndarray, last: np.ndarray, hashes: np.ndarray, at: np.ndarray
             ) -> np.ndarray:
    """For each time of ``at``, of one container's pods (their first and last times and
    hashes): the pod running then (of several, the larger hash), else the one seen last
    before it (of several, the larger hash); :data:`_NONE` without one.  Sorted searches,
    not a scan of every pod per kill (a CronJob's 200,000 pods, 1,000 kills: 1 s)."""
    o = np.lexsort((hashes, first))
    first, last, hashes = first[o], last[o], hashes[o]
    started = np.searchsorted(first, at, side="right")  # pods [0, started) began by then
    newest = np.maximum.accumulate(last)  # the latest last time among the pods so far
    seen = np.where(started > 0, newest[np.maximum(started - 1, 0)], _NONE)
    out = np.full(len(at), _NONE)
    gone = (started > 0) & (seen < at)
    if gone.any():  # none runs: the pods seen last (their first times are all before)
        by_last = np.lexsort((hashes, last))
        j = np.searchsorted(last[by_last], seen[gone], side="right") - 1
        out[gone] = hashes[by_last][j]
    span = int((last - first).max())  # a running pod began at most this long before
    for i in np.flatnonzero((started > 0) & (seen >= at)):
        lo = int(np.searchsorted(first, at[i] - span, side="left"))
        live = last[lo:started[i]] >= at[i]
        out[i] = hashes[lo:started[i]][live].max()
    return out


def _last_at(keys: np.ndarray, times: np.ndarray, values: np.ndarray,
             want: np.ndarray, at: np.ndarray) -> np.ndarray:
    """For each (``want``, ``at``): the value of the last row of that key at or before
    ``at`` (rows distinct in key and time); NaN without one."""
    order = np.lexsort((values, times, keys))  # one instant's two limits: the larger
    k, tt, v = keys[order], times[order], values[order]
    # The last row of key w at or before a: the one before the first row past (w, a).
    hi = np.searchsorted(_pairs(k, tt), _pairs(want, at), side="right") - 1
    found = (hi >= 0) & (k[np.maximum(hi, 0)] == want)
    return np.where(found, v[np.maximum(hi, 0)], np.nan)


def _pairs(keys: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(key, time) pairs as one sortable structured array."""
    out = np.empty(len(keys), dtype=[("k", "int64"), ("t", "int64")])
    out["k"], out["t"] = keys, times
    return out
