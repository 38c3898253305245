"""Merge rollup rows of the same pod's container and UTC day into one.

A stream of chunks meets a container's day in several pieces (a chunk boundary cuts the
day); :func:`quotatune.rollup.sketch.daily_rollup` of each piece gives one row per piece.
The pieces hold disjoint samples, so counts, sums, histograms and recency weights add, maxima
and hourly peaks take the larger, and the newest piece gives the current requests, limits,
restarts and platform — the row :func:`daily_rollup` would give for the whole day.

:func:`fold_pods` merges the rows of a container's pods of one day the same way, for the
strategies that size a container from its history as a whole: their input then follows the
number of containers, not of pods (a CronJob starts a pod every few minutes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS, utc_ns
from quotatune.rollup import sketch
from quotatune.rollup.namehash import newest_last, pod_hashes

_SUMS = ("n", "cpu_sum", "cpu_wsum", "mem_sum", "mem_wsum", "w_sum")
_MAXES = ("cpu_max", "mem_max")
_NEWEST = (*sketch.CURRENT_COLUMNS, "restarts")


def merge_rollups(rollups: pd.DataFrame) -> pd.DataFrame:
    """One row per (namespace, workload, container, pod, day); lone rows pass through."""
    if rollups.empty:
        return rollups
    day = utc_ns(rollups["day"])
    # dropna=False: rows missing a name would otherwise all share group -1 and merge
    # across unrelated containers.
    code = rollups.groupby(sketch.POD_KEY, sort=False, observed=True,
                           dropna=False).ngroup().to_numpy()
    gkey = code.astype("int64") * (int(day.max() - day.min()) // sketch.DAY_NS + 1) \
        + (day - day.min()) // sketch.DAY_NS
    order = np.lexsort((utc_ns(rollups["t_last"]), gkey))
    r = rollups.iloc[order].reset_index(drop=True)
    gkey = gkey[order]
    starts = np.flatnonzero(np.r_[True, gkey[1:] != gkey[:-1]])
    if len(starts) == len(r):
        return r
    out, _ = _merge_groups(r, starts)
    return out[[c for c in sketch.ROLLUP_COLUMNS if c in out.columns]]


def fold_pods(rollups: pd.DataFrame) -> pd.DataFrame:
    """One row per (namespace, workload, container, day), its pods' rows merged (pod ``""``),
    in order of container, then day: counts, sums, histograms and weights add, maxima and
    hourly peaks take the larger, and each current request, limit and restart count is the
    newest pod's that has one, the platform the newest pod's that names one (the values
    :class:`quotatune.analysis.summary.History` takes from the rows it merges).  Only the
    columns ``rollups`` has are computed, so a projected read folds as it is.  Fold rows
    once, each a pod's whole day: a folded row's ``t_last`` is its newest pod's, its limit
    perhaps an older pod's, so folded again with other pods' rows it could win over a
    newer limit: a stream that folds again and again takes those values from
    :class:`quotatune.rollup.currents.PodCurrents` instead."""
    if rollups.empty:
        return rollups
    key = [*KEY_COLUMNS, "day"]
    code = rollups.groupby(key, sort=True, observed=True, dropna=False).ngroup().to_numpy(
        "int64")
    order = newest_last((utc_ns(rollups["t_last"]), utc_ns(rollups["day"]), code),
                        lambda: pod_hashes(rollups))
    r = rollups.iloc[order].reset_index(drop=True)
    c = code[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    if len(starts) == len(r):
        return r.assign(pod="") if "pod" in r.columns else r
    out, group = _merge_groups(r, starts)
    if "pod" in out.columns:
        out["pod"] = ""
    if "platform" in r.columns:
        p = r["platform"].fillna("").astype(str).to_numpy()
        named = np.flatnonzero((p != "") & (p != "nan"))
        last = np.full(len(starts), -1)
        np.maximum.at(last, group[named], named)
        out["platform"] = np.where(last >= 0, p[np.maximum(last, 0)], "")
    return out


def _merge_groups(r: pd.DataFrame, starts: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The groups of rows starting at ``starts`` (each in time order, newest last) merged
    into one row each, of the columns ``r`` has; and each row's group.  A lone row stands
    for itself: the newest row of each group is the base, and only groups of several rows
    have their hours and histograms merged (most groups are one row, and merging every row
    cost seconds for a CronJob's 400,000 pods)."""
    ends = np.r_[starts[1:], len(r)]
    sizes = ends - starts
    group = np.repeat(np.arange(len(starts)), sizes)
    out = r.iloc[ends - 1].reset_index(drop=True)
    for col in _SUMS:
        if col in r.columns:
            out[col] = np.add.reduceat(r[col].to_numpy(), starts)
    for col in _MAXES:
        if col in r.columns:
            out[col] = np.maximum.reduceat(r[col].to_numpy("float64"), starts)
    out["t_first"] = _utc(np.minimum.reduceat(utc_ns(r["t_first"]), starts))
    out["t_last"] = _utc(np.maximum.reduceat(utc_ns(r["t_last"]), starts))
    for col in _NEWEST:
        if col in r.columns:
            out[col] = sketch.last_valid(r[col].to_numpy("float64"), group, len(starts))
    multi = np.flatnonzero(sizes > 1)
    sub = r.iloc[np.flatnonzero(np.repeat(sizes > 1, sizes))]
    sub_group = np.repeat(np.arange(len(multi)), sizes[multi])
    merged: dict[str, list[np.ndarray]] = {}
    if "mem_hour_max" in r.columns:
        sub_starts = np.r_[0, np.cumsum(sizes[multi])[:-1]]
        hours = np.fmax.reduceat(np.stack(list(sub["mem_hour_max"])), sub_starts, axis=0)
        merged["mem_hour_max"] = list(hours)
    for prefix in ("cpu", "mem"):
        if f"{prefix}_b" in r.columns:
            merged.update(_merge_hist(sub, prefix, sub_group, len(multi)))
    for col, arrays in merged.items():
        values = out[col].to_numpy(dtype=object).copy()
        for i, a in zip(multi.tolist(), arrays, strict=True):
            values[i] = a  # one by one: a list of equal-length arrays would become 2-D
        out[col] = values
    return out, group


def _merge_hist(r: pd.DataFrame, prefix: str, group: np.ndarray, ngroups: int
                ) -> dict[str, list[np.ndarray]]:
    """The histogram columns of ``prefix`` that ``r`` has, merged per group: each bucket's
    counts and weights add."""
    arrays = r[f"{prefix}_b"].to_numpy()
    lengths = np.fromiter(map(len, arrays), dtype="int64", count=len(arrays))
    cols = [(col, kind) for col, kind in ((f"{prefix}_c", "int32"), (f"{prefix}_w", "float64"))
            if col in r.columns]
    bucket, offsets, sums = sketch.sum_buckets(
        np.repeat(group, lengths), np.concatenate([np.empty(0, "int64"), *arrays]), ngroups,
        [np.concatenate([np.empty(0), *r[col].to_numpy()]) for col, _ in cols])
    bounds = offsets.tolist()
    pairs = list(zip(bounds[:-1], bounds[1:], strict=True))

    def split(v: np.ndarray) -> list[np.ndarray]:  # np.split cost 15 us a piece
        return [v[a:b] for a, b in pairs]

    out = {f"{prefix}_b": split(bucket.astype("int16"))}
    for (col, kind), v in zip(cols, sums, strict=True):
        out[col] = split(np.rint(v).astype(kind) if kind == "int32" else v)
    return out




def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(ns, utc=True)
