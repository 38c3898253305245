"""Merge rollup rows of the same pod's container and UTC day into one.

A stream of chunks meets a container's day in several pieces (a chunk boundary cuts the
day); :func:`quotatune.rollup.sketch.daily_rollup` of each piece gives one row per piece.
The pieces hold disjoint samples, so counts, sums, histograms and recency weights add, maxima
and hourly peaks take the larger, and the newest piece gives the current requests, limits,
restarts and platform — the row :func:`daily_rollup` would give for the whole day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.rollup import sketch

_SUMS = ("n", "cpu_sum", "cpu_wsum", "mem_sum", "mem_wsum", "w_sum")
_MAXES = ("cpu_max", "mem_max")
_NEWEST = (*sketch.CURRENT_COLUMNS, "restarts")


def merge_rollups(rollups: pd.DataFrame) -> pd.DataFrame:
    """One row per (namespace, workload, container, pod, day); lone rows pass through."""
    if rollups.empty:
        return rollups
    day = _ns(rollups["day"])
    code = rollups.groupby(sketch.POD_KEY, sort=False, observed=True).ngroup().to_numpy()
    gkey = code.astype("int64") * (int(day.max() - day.min()) // sketch.DAY_NS + 1) \
        + (day - day.min()) // sketch.DAY_NS
    order = np.lexsort((_ns(rollups["t_last"]), gkey))
    r = rollups.iloc[order].reset_index(drop=True)
    gkey = gkey[order]
    new_group = np.r_[True, gkey[1:] != gkey[:-1]]
    if new_group.all():
        return r
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], len(r)]
    group = np.cumsum(new_group) - 1
    out = r.iloc[ends - 1][[*sketch.POD_KEY, "day", "platform"]].reset_index(drop=True)
    for col in _SUMS:
        out[col] = np.add.reduceat(r[col].to_numpy(), starts)
    for col in _MAXES:
        out[col] = np.maximum.reduceat(r[col].to_numpy("float64"), starts)
    out["t_first"] = pd.to_datetime(np.minimum.reduceat(_ns(r["t_first"]), starts), utc=True)
    out["t_last"] = pd.to_datetime(np.maximum.reduceat(_ns(r["t_last"]), starts), utc=True)
    hours = np.stack(list(r["mem_hour_max"]))
    out["mem_hour_max"] = pd.Series(list(np.fmax.reduceat(hours, starts, axis=0)), dtype=object)
    for prefix in ("cpu", "mem"):
        b, c, w = _merge_hist(r, prefix, group, len(starts))
        out[f"{prefix}_b"], out[f"{prefix}_c"], out[f"{prefix}_w"] = b, c, w
    for col in _NEWEST:
        out[col] = sketch.last_valid(r[col].to_numpy("float64"), group, len(starts))
    return out[sketch.ROLLUP_COLUMNS]


def _merge_hist(r: pd.DataFrame, prefix: str, group: np.ndarray, ngroups: int
                ) -> tuple[pd.Series, pd.Series, pd.Series]:
    arrays = r[f"{prefix}_b"].to_numpy()
    lengths = np.fromiter(map(len, arrays), dtype="int64", count=len(arrays))
    bucket = np.concatenate(arrays).astype("int64")
    counts = np.concatenate(r[f"{prefix}_c"].to_numpy()).astype("float64")
    weights = np.concatenate(r[f"{prefix}_w"].to_numpy()).astype("float64")
    combined = np.repeat(group, lengths) * sketch.NBUCKETS + bucket
    uniq, inv = np.unique(combined, return_inverse=True)
    c = np.rint(np.bincount(inv, weights=counts)).astype("int32")
    w = np.bincount(inv, weights=weights)
    offsets = np.searchsorted(uniq // sketch.NBUCKETS, np.arange(ngroups + 1))
    cuts = offsets[1:-1]
    return (pd.Series(np.split((uniq % sketch.NBUCKETS).astype("int16"), cuts), dtype=object),
            pd.Series(np.split(c, cuts), dtype=object),
            pd.Series(np.split(w, cuts), dtype=object))


def _ns(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s, utc=True).to_numpy("datetime64[ns]").astype("int64")
