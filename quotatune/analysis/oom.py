"""OOM kills in the event frame, and the memory limit each one was hitting.

An OOM floor ("after a kill, the limit is at least the limit it was killed at × 1.2") must grow
from the limit in force *at the kill*. Taking the newest limit instead turns every applied
recommendation into a higher floor on the next run, with no new kill (a ratchet). The limit at
a kill comes from, in order:

1. the usage samples: the killed pod's last ``memory_limit_bytes`` at or before the kill,
   else its container's (:func:`limits_at_ooms`, on the raw, ``--from`` and store paths, as
   the ``limit_at_oom`` column; the store reads its killed containers' samples for it);
2. where no sample gives one, the per-day rollups: the killed pod's own limit that day, where
   the event names a pod that has a row; else the lower of the limits known at the end of
   the kill's day and of the day before (a raise after the kill, on the same day, does not
   count);
3. the spec row of the pod that was killed (a pod's limits are those of its spec).

Pure: frames in, arrays out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS
from quotatune.model.units import MIB
from quotatune.rollup.limits import LimitChanges
from quotatune.rollup.namehash import newest_last, pod_hashes

LIMIT_AT_OOM = "limit_at_oom"
DAY = pd.Timedelta(days=1)
# After a kill at limit L the limit is at least max(L + 100 MiB, L × 1.2).  The ratio alone
# gives a 64 MiB sidecar 13 MiB more, less than one allocation burst; the step alone gives a
# 16 GiB JVM under 1 %.  One rule for the default strategy, containers sized from evidence
# alone and diagnose's advice, so that no two of them tell one container different numbers
# (KRR's own x1.25 stays with the strategies that reproduce KRR).
OOM_STEP = 100 * MIB
OOM_RATIO = 1.2
OOM_RULE = "+100 MiB or ×1.2, whichever is larger"


def oom_floor(limit: np.ndarray) -> np.ndarray:
    """The least memory limit after an OOM kill at ``limit`` (bytes, per container; NaN
    stays NaN)."""
    return np.maximum(limit + OOM_STEP, limit * OOM_RATIO)


def oom_events(events: pd.DataFrame | None) -> pd.DataFrame:
    """The OOM kills among ``events`` (OOMKilled terminations and kernel OOM events)."""
    if events is None or events.empty or not set(KEY_COLUMNS) <= set(events.columns):
        return pd.DataFrame(columns=[*KEY_COLUMNS, "timestamp"])
    return events[_is_oom(events)]


def _is_oom(events: pd.DataFrame) -> np.ndarray:
    oom = np.zeros(len(events), dtype=bool)
    if "oom_killed" in events.columns:
        oom |= events["oom_killed"].map(lambda v: v is True or str(v).lower() == "true"
                                        ).to_numpy(bool)
    if "reason" in events.columns:
        oom |= (events["reason"].astype(str) == "OOMKilled").to_numpy()
    return oom


def limits_at_ooms(usage: pd.DataFrame | LimitChanges, events: pd.DataFrame | None
                   ) -> pd.DataFrame | None:
    """``events`` with ``limit_at_oom``: at each OOM kill, the killed pod's memory limit in
    its last sample at or before the kill, else its container's (NaN where no sample says;
    :mod:`quotatune.rollup.limits`).  ``usage``: the samples, or the limit changes a stream
    kept of them.  Other events pass unchanged."""
    if events is None or events.empty or not set(KEY_COLUMNS) <= set(events.columns) \
            or "timestamp" not in events.columns:
        return events
    rows = np.flatnonzero(_is_oom(events))
    if not len(rows):
        return events
    changes = usage if isinstance(usage, LimitChanges) else LimitChanges.of(usage)
    if not len(changes):
        return events
    out = events.copy()
    limits = np.full(len(out), np.nan)
    limits[rows] = changes.at(events.iloc[rows])
    out[LIMIT_AT_OOM] = limits
    return out


def limit_at_kills(kills: pd.DataFrame) -> float | None:
    """The highest memory limit in force at these kills (rows of :func:`oom_events` with
    ``limit_at_oom``), in bytes; None where no sample says."""
    if LIMIT_AT_OOM not in kills.columns:
        return None
    at = pd.to_numeric(kills[LIMIT_AT_OOM], errors="coerce").to_numpy("float64")
    at = at[np.isfinite(at) & (at > 0)]
    return float(at.max()) if len(at) else None


def oom_limits(ooms: pd.DataFrame, specs: pd.DataFrame | None,
               rollups: pd.DataFrame | None) -> np.ndarray:
    """Per row of ``ooms`` (from :func:`oom_events`): the memory limit in force at that kill,
    in bytes (NaN: unknown)."""
    n = len(ooms)
    out = np.full(n, np.nan)
    if LIMIT_AT_OOM in ooms.columns:
        out = pd.to_numeric(ooms[LIMIT_AT_OOM], errors="coerce").to_numpy("float64").copy()
    missing = np.isnan(out)
    if missing.any() and rollups is not None and not rollups.empty \
            and "memory_limit_bytes" in rollups.columns and "timestamp" in ooms.columns:
        out[missing] = _from_rollups(ooms[missing], rollups)
        missing = np.isnan(out)
    if missing.any() and specs is not None and not specs.empty and "pod" in ooms.columns \
            and {"pod", "memory_limit_bytes", *KEY_COLUMNS} <= set(specs.columns):
        out[missing] = _from_pod_specs(ooms[missing], specs)
    return out


def _from_rollups(ooms: pd.DataFrame, rollups: pd.DataFrame) -> np.ndarray:
    if "t_last" in rollups.columns:
        # The limit known at a day's end is its newest pod's: of pods last seen at the same
        # time, the one of the larger name hash (as History picks, in any row order).
        last = pd.to_datetime(rollups["t_last"], utc=True).to_numpy("datetime64[ns]")
        # Rows that name only the killed pod carry every pod's hash (``pod_hash``).
        by = rollups
        order = newest_last((last.astype("int64"),), lambda: by["pod_hash"].to_numpy(
            "int64") if "pod_hash" in by.columns else pod_hashes(by))
        rollups = rollups.iloc[order].reset_index(drop=True)
    r = rollups[[*KEY_COLUMNS, "day", "memory_limit_bytes"]].dropna()
    pods = (rollups["pod"].astype(str).loc[r.index].tolist() if "pod" in rollups.columns
            else None)
    known: dict[tuple[str, str, str, pd.Timestamp], float] = {}
    by_pod: dict[tuple[str, str, str, str, pd.Timestamp], float] = {}
    for j, (ns, wl, ct, day, lim) in enumerate(r.itertuples(index=False, name=None)):
        key = (str(ns), str(wl), str(ct))
        known[(*key, _day(day))] = float(lim)
        if pods is not None and pods[j]:
            by_pod[(*key, pods[j], _day(day))] = float(lim)
    out = np.full(len(ooms), np.nan)
    times = pd.to_datetime(ooms["timestamp"], utc=True, errors="coerce")
    killed = ooms["pod"].astype(str).to_numpy() if "pod" in ooms.columns else \
        np.full(len(ooms), "")
    for i, (key, t) in enumerate(zip(ooms[KEY_COLUMNS].astype(str).itertuples(
            index=False, name=None), times, strict=True)):
        if pd.isna(t):
            continue
        d = t.floor("D")
        own = by_pod.get((*key, killed[i], d))
        if own is not None:  # a pod's limit is fixed for its life: the one it was killed at
            out[i] = own
            continue
        seen = [v for v in (known.get((*key, d)), known.get((*key, d - DAY))) if v is not None]
        if seen:
            out[i] = min(seen)
    return out


def _day(v: object) -> pd.Timestamp:
    t = pd.Timestamp(v)  # type: ignore[arg-type]
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).floor("D")


def _from_pod_specs(ooms: pd.DataFrame, specs: pd.DataFrame) -> np.ndarray:
    cols = [*KEY_COLUMNS, "pod"]
    lim = pd.to_numeric(specs["memory_limit_bytes"], errors="coerce")
    rows = specs[cols].astype(str).assign(limit=lim.to_numpy()).dropna(subset=["limit"])
    by_pod = {k: float(v) for k, v in zip(rows[cols].itertuples(index=False, name=None),
                                            rows["limit"], strict=True) if k[3]}
    keys = ooms[cols].astype(str).itertuples(index=False, name=None)
    return np.array([by_pod.get(k, np.nan) for k in keys], dtype="float64")
