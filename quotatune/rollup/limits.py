"""Where each pod's memory limit changes, and the limit in force at an OOM kill.

A pod's limit is its own: when a rollout runs an old pod at 400 MiB beside a new one at
600 MiB and the old one is killed, it was killed at 400, whichever pod sampled last.  So a
kill that names a pod with samples takes that pod's last limit at or before the kill.  A
kill without one takes its container's: the limit of the pod running at the kill (of
several, the one whose names hash larger, as everywhere: :mod:`quotatune.rollup.namehash`),
else of the pod seen last before it; for pods that run one after another, the container's
last sample at or before the kill.

The samples are reduced to each pod's first and last rows with a limit and the rows where
its limit takes a new value (a few a pod, where a week of samples is thousands), held as
plain arrays keyed by name hashes, so a stream keeps them chunk by chunk and a whole frame
reduces the same way: both give the same answer.  Chunks must not interleave one pod's
times (the overlap check's runs, or a day's merged samples, guarantee it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS
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
        has = np.flatnonzero(~np.isnan(v))
        if not len(has):
            return cls()
        t = pd.to_datetime(usage["timestamp"], utc=True).to_numpy("datetime64[ns]").view(
            "int64")
        if pod_runs is None:
            sub = usage.iloc[has]
            return cls.joined([cls({"container": frame_hashes(sub, KEY_COLUMNS),
                                    "pod": pod_hashes(sub), "t": t[has], "limit": v[has]})])
        keep = has[_kept(np.cumsum(pod_runs)[has], v[has])]
        sub = usage.iloc[keep]
        return cls({"container": frame_hashes(sub, KEY_COLUMNS), "pod": pod_hashes(sub),
                    "t": t[keep], "limit": v[keep]})

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
        if named.any():
            out[named] = _last_at(r["pod"], r["t"], r["limit"], pod_hashes(kills[named]),
                                  t[named])
        rest = np.flatnonzero(ok & np.isnan(out))
        if len(rest):
            pods = _pods(r)
            want = frame_hashes(kills.iloc[rest], KEY_COLUMNS)
            chosen = np.array([_running(pods, c, at) for c, at in zip(want, t[rest],
                                                                       strict=True)],
                              dtype="int64")
            found = chosen != _NONE
            out[rest[found]] = _last_at(r["pod"], r["t"], r["limit"], chosen[found],
                                        t[rest][found])
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


def _pods(r: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per pod (rows sorted by container, then pod): its container, its hash, its
    first and last times."""
    order = np.lexsort((r["t"], r["pod"], r["container"]))
    pod = r["pod"][order]
    start = np.flatnonzero(np.r_[True, pod[1:] != pod[:-1]])
    end = np.r_[start[1:], len(order)] - 1
    return {"container": r["container"][order][start], "pod": pod[start],
            "first": r["t"][order][start], "last": r["t"][order][end]}


def _running(pods: dict[str, np.ndarray], container: int, at: int) -> int:
    """The pod of ``container`` running at ``at`` (of several, the larger hash), else the
    one seen last before it (of several, the larger hash); :data:`_NONE` without one."""
    lo, hi = int(np.searchsorted(pods["container"], container, side="left")), \
        int(np.searchsorted(pods["container"], container, side="right"))
    if lo == hi:
        return int(_NONE)
    first, last, hashes = pods["first"][lo:hi], pods["last"][lo:hi], pods["pod"][lo:hi]
    running = (first <= at) & (at <= last)
    if running.any():
        return int(hashes[running].max())
    before = last <= at
    if not before.any():
        return int(_NONE)
    newest = last[before].max()
    return int(hashes[before & (last == newest)].max())


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
