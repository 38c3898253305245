"""Where each pod's memory limit changes, and the limit in force at an OOM kill.

A pod's limit is its own: when a rollout runs an old pod at 400 MiB beside a new one at
600 MiB and the old one is killed, it was killed at 400, whichever pod sampled last.  So a
kill that names a pod with samples takes that pod's last limit at or before the kill; only a
kill without one takes its container's (of pods sampled at the same instant, the one whose
names hash larger, as everywhere: :mod:`quotatune.rollup.namehash`).

The samples are reduced to the rows where a pod's limit changes (a few a pod, where a week
of samples is thousands), held as plain arrays keyed by name hashes, so a stream can keep
them chunk by chunk and a whole frame reduces the same way: both give the same answer.
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
    """Rows where a pod's memory limit takes a new value: its container's and its own name
    hashes, the time (ns since the epoch, UTC) and the limit in bytes."""

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
        t = pd.to_datetime(usage["timestamp"], utc=True).to_numpy("datetime64[ns]").view(
            "int64")
        has = np.flatnonzero(~np.isnan(v))
        if not len(has):
            return cls()
        if pod_runs is not None:
            # Changes per pod run: each run's first row with a limit, and every new value.
            run = np.cumsum(pod_runs)[has]
            vv = v[has]
            keep = has[np.r_[True, (run[1:] != run[:-1]) | (vv[1:] != vv[:-1])]]
            sub = usage.iloc[keep]
            return cls({"container": frame_hashes(sub, KEY_COLUMNS), "pod": pod_hashes(sub),
                        "t": t[keep], "limit": v[keep]})
        sub = usage.iloc[has]
        return cls.joined([cls({"container": frame_hashes(sub, KEY_COLUMNS),
                                "pod": pod_hashes(sub), "t": t[has], "limit": v[has]})])

    @classmethod
    def joined(cls, parts: list[LimitChanges]) -> LimitChanges:
        """``parts`` as one, a pod's rows in time order and only where its limit changes (a
        pod cut across chunks, or read twice, repeats a row)."""
        rows = {k: np.concatenate([p.rows[k] for p in parts]) if parts else _empty()[k]
                for k in _COLUMNS}
        order = np.lexsort((rows["t"], rows["pod"]))
        pod, limit = rows["pod"][order], rows["limit"][order]
        keep = order[np.r_[True, (pod[1:] != pod[:-1]) | (limit[1:] != limit[:-1])]] \
            if len(order) else order
        return cls({k: rows[k][keep] for k in _COLUMNS})

    def at(self, kills: pd.DataFrame) -> np.ndarray:
        """The limit in force at each kill of ``kills`` (names of
        :data:`quotatune.rollup.namehash.POD_KEY`, a ``timestamp``): the killed pod's last
        limit at or before it, else its container's; NaN where neither is known."""
        out = np.full(len(kills), np.nan)
        if not len(self) or kills.empty:
            return out
        when = pd.to_datetime(kills["timestamp"], utc=True, errors="coerce")
        ok = when.notna().to_numpy()
        t = np.where(ok, when.to_numpy("datetime64[ns]").view("int64"), 0)
        named = ok & (kills["pod"].fillna("").astype(str).to_numpy() != "") \
            if "pod" in kills.columns else np.zeros(len(kills), dtype=bool)
        r = self.rows
        if named.any():
            out[named] = _last_at(r["pod"], r["t"], r["limit"],
                                  pod_hashes(kills[named]), t[named])
        rest = ok & np.isnan(out)
        if rest.any():
            # Of pods changing at the same instant, the larger hash is the later row.
            order = np.lexsort((r["pod"], r["t"], r["container"]))
            c, tt = r["container"][order], r["t"][order]
            last = order[np.r_[(c[1:] != c[:-1]) | (tt[1:] != tt[:-1]), True]]
            out[rest] = _last_at(r["container"][last], r["t"][last], r["limit"][last],
                                 frame_hashes(kills[rest], KEY_COLUMNS), t[rest])
        return out


def _last_at(keys: np.ndarray, times: np.ndarray, values: np.ndarray,
             want: np.ndarray, at: np.ndarray) -> np.ndarray:
    """For each (``want``, ``at``): the value of the last row of that key at or before
    ``at`` (rows distinct in key and time); NaN without one."""
    order = np.lexsort((times, keys))
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
