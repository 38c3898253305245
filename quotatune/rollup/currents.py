"""The current requests, limits, restart count and platform of each container's day, found
from its pods' rollup pieces as a stream brings them.

A container's day takes these from its newest pod that has one (by the pod's last sample
that day; of pods seen last at the same time, the one whose names hash larger,
:mod:`quotatune.rollup.namehash`), each pod giving the value of its newest sample that has one: what
:class:`quotatune.analysis.summary.History` takes from the whole day's rows.  A stream that
folds its chunks' pieces per container cannot find that from folded rows: a pod's later
piece without a limit makes that pod the newest while its limit sits in an older piece.  So
the few current values of every pod's day are held here, as plain arrays keyed by 64-bit
hashes of the names (a few dozen bytes a pod-day, where a pod's rollup row with its
histograms was kilobytes), and resolved once the last chunk is in.  See
docs/architecture.md, "The flow".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS, utc_ns
from quotatune.rollup import runs, sketch
from quotatune.rollup.namehash import frame_hashes, pod_hashes

CURRENT = (*sketch.CURRENT_COLUMNS, "restarts")
_KEYS = ("pod", "container", "day", "t_last")


class PodCurrents:
    """Each pod's day's current values, from the rollup pieces of a stream in any order and
    cut at any row."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []
        self._rows = 0
        self._compacted = 0  # rows after the last compaction
        self._platforms: dict[str, int] = {}
        self._per_pod: dict[str, np.ndarray] | None = None  # the pod-days, once all are in

    def add(self, piece: pd.DataFrame,
            hashes: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """The pod rows of ``piece`` (:func:`quotatune.rollup.sketch.daily_rollup` rows);
        ``hashes``: their pods' and containers' name hashes, if known (else hashed here)."""
        if piece.empty:
            return
        pods, containers = hashes if hashes is not None else \
            (pod_hashes(piece), frame_hashes(piece, KEY_COLUMNS))
        part = {"pod": pods, "container": containers,
                "day": utc_ns(piece["day"]), "t_last": utc_ns(piece["t_last"]),
                "platform": self._platform_codes(piece)}
        for col in CURRENT:
            part[col] = piece[col].to_numpy("float64") if col in piece.columns \
                else np.full(len(piece), np.nan)
        self._parts.append(part)
        self._per_pod = None
        self._rows += len(piece)
        # Pieces of one pod's day merge into one row: past 4x what was merged last time
        # (a day cut by many chunks), the rows are merged again.
        if self._rows > 4 * max(self._compacted, 250_000):
            self._parts = [_newest_per_group(_joined(self._parts), ("pod", "day"))]
            self._rows = self._compacted = len(self._parts[0]["pod"])

    def resolve(self, folded: pd.DataFrame) -> pd.DataFrame:
        """``folded`` (one row per container and day) with the current values and platform
        of each row's container and day as the whole day's rows give them."""
        if folded.empty or not self._parts:
            return folded
        per_day = _newest_per_group(self._pod_days(), ("container", "day"), tie="pod",
                                    named=True)
        key = pd.DataFrame({"container": per_day["container"], "day": per_day["day"]})
        want = pd.DataFrame({"container": frame_hashes(folded, KEY_COLUMNS),
                             "day": utc_ns(folded["day"])})
        row = want.merge(key.reset_index(), how="left", on=["container", "day"])["index"]
        found = row.notna().to_numpy()
        take = row.fillna(0).to_numpy("int64")
        out = folded.copy()
        for col in CURRENT:
            if col in out.columns:
                out[col] = np.where(found, per_day[col][take], np.nan)
        if "platform" in out.columns:
            names = np.array(["", *self._platforms], dtype=object)
            out["platform"] = np.where(found, names[per_day["platform"][take] + 1], "")
        return out

    def limit_rows(self, kills: pd.DataFrame) -> pd.DataFrame | None:
        """For the day of each OOM kill in ``kills`` (names of :data:`POD_KEY` and a
        ``timestamp``) and the day before: each pod's memory limit of its container, as
        rollup rows (:data:`KEY_COLUMNS`, ``pod``, ``day``, ``t_last``,
        ``memory_limit_bytes``, and ``pod_hash``: the pod's names' hash, which breaks ties
        as :meth:`resolve` does), newest pod last, the killed pod named, the others ``""``.
        The limit a kill happened at is looked up in such rows
        (:mod:`quotatune.analysis.oom`): folded rows hold only the day's newest pod's limit,
        perhaps raised after the kill."""
        if kills.empty or not self._parts:
            return None
        times = pd.to_datetime(kills["timestamp"], utc=True, errors="coerce")
        ok = times.notna().to_numpy()
        if not ok.any():
            return None
        kills = kills[ok]
        day = utc_ns(times[ok].dt.floor("D"))
        killed = pd.DataFrame({
            **{c: kills[c].astype(str).to_numpy() for c in KEY_COLUMNS},
            "killed": kills["pod"].astype(str).to_numpy() if "pod" in kills.columns else "",
            "killed_hash": pod_hashes(kills) if "pod" in kills.columns else 0,
            "container_hash": frame_hashes(kills, KEY_COLUMNS)})
        wanted = pd.concat([killed.assign(day=day),
                            killed.assign(day=day - sketch.DAY_NS)]).drop_duplicates()
        p = self._pod_days()
        rows = pd.DataFrame({"container_hash": p["container"], "day": p["day"],
                             "pod_hash": p["pod"], "t_last": p["t_last"],
                             "memory_limit_bytes": p["memory_limit_bytes"]})
        got = rows.merge(wanted, on=["container_hash", "day"]).sort_values(
            ["day", "t_last", "pod_hash"], kind="stable")
        if got.empty:
            return None
        return pd.DataFrame({
            **{c: got[c].to_numpy() for c in KEY_COLUMNS},
            "pod": np.where(got["pod_hash"] == got["killed_hash"], got["killed"], ""),
            "day": pd.to_datetime(got["day"].to_numpy(), utc=True),
            "t_last": pd.to_datetime(got["t_last"].to_numpy(), utc=True),
            "pod_hash": got["pod_hash"].to_numpy(),
            "memory_limit_bytes": got["memory_limit_bytes"].to_numpy()})

    def _pod_days(self) -> dict[str, np.ndarray]:
        """One row per pod and day."""
        if self._per_pod is None:
            self._per_pod = _newest_per_group(_joined(self._parts), ("pod", "day"))
        return self._per_pod

    def _platform_codes(self, piece: pd.DataFrame) -> np.ndarray:
        if "platform" not in piece.columns:
            return np.full(len(piece), -1, dtype="int32")
        codes, uniq = pd.factorize(piece["platform"].fillna("").astype(str))
        table = np.array([self._platforms.setdefault(p, len(self._platforms))
                          if p not in ("", "nan") else -1 for p in uniq] + [-1], dtype="int32")
        return table[codes]


def _joined(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _newest_per_group(rows: dict[str, np.ndarray], by: tuple[str, str], *, tie: str | None = None,
                      named: bool = False) -> dict[str, np.ndarray]:
    """One row per ``by`` group: the newest row's keys (by ``t_last``, then ``tie``), each
    current value the newest row's that has one, the platform the newest row's (``named``:
    the newest row's that names one)."""
    sort_keys = [rows["t_last"], rows[by[1]], rows[by[0]]]
    if tie is not None:
        sort_keys.insert(0, rows[tie])
    order = np.lexsort(sort_keys)
    a, b = rows[by[0]][order], rows[by[1]][order]
    starts = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])])
    ends = np.r_[starts[1:], len(order)]
    group = np.repeat(np.arange(len(starts)), ends - starts)
    newest = order[ends - 1]
    out = {k: rows[k][newest] for k in rows if k in _KEYS}
    for col in CURRENT:
        out[col] = runs.last_valid(rows[col][order], group, len(starts))
    platform = rows["platform"][order]
    if named:
        last = np.full(len(starts), -1)
        has = np.flatnonzero(platform >= 0)
        np.maximum.at(last, group[has], has)
        out["platform"] = np.where(last >= 0, platform[np.maximum(last, 0)], -1)
    else:
        out["platform"] = platform[ends - 1]
    return out


