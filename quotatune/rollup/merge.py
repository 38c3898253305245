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
from quotatune.rollup import runs, sketch
from quotatune.rollup.flat import LIST_DTYPES, Flat, FlatRows
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
    out, _ = _merge_frame(r, starts)
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
    order, starts = _by_container_day(rollups)
    r = rollups.iloc[order].reset_index(drop=True)
    if len(starts) == len(r):
        return r.assign(pod="") if "pod" in r.columns else r
    out, group = _merge_frame(r, starts)
    return _as_folded(out, r, starts, group)


def fold_rows(rows: FlatRows) -> FlatRows:
    """:func:`fold_pods` of rows held flat (:mod:`quotatune.rollup.flat`), which stay flat:
    a stream that folds a chunk of pods at a time never makes a pod's arrays."""
    if not len(rows):
        return rows
    order, starts = _by_container_day(rows.frame)
    r = rows.take(order)
    if len(starts) == len(r):
        return FlatRows(_as_folded(r.frame, r.frame, starts, None), r.lists, r.columns)
    out, group = _merge_scalars(r.frame, starts)
    multi, sub_rows, sub_group = _multi(starts, len(r))
    merged = _merged_lists({c: f.take(sub_rows) for c, f in r.lists.items()},
                           sub_group, len(multi))
    ends = np.r_[starts[1:], len(r)]
    pick = np.arange(len(starts))  # each group's list: its newest row's, or its merge's
    pick[multi] = len(starts) + np.arange(len(multi))
    # A list column merge does not know (counts without their buckets) stays the newest
    # row's, as fold_pods leaves it.
    lists = {c: Flat.joined([f.take(ends - 1), merged[c]]).take(pick) if c in merged
             else f.take(ends - 1) for c, f in r.lists.items()}
    return FlatRows(_as_folded(out, r.frame, starts, group), lists, r.columns)


def _by_container_day(rollups: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The order that groups rows by container and day, newest pod last, and where each
    group starts in it."""
    key = [*KEY_COLUMNS, "day"]
    code = rollups.groupby(key, sort=True, observed=True, dropna=False).ngroup().to_numpy(
        "int64")
    order = newest_last((utc_ns(rollups["t_last"]), utc_ns(rollups["day"]), code),
                        lambda: pod_hashes(rollups))
    c = code[order]
    return order, np.flatnonzero(np.r_[True, c[1:] != c[:-1]])


def _as_folded(out: pd.DataFrame, r: pd.DataFrame, starts: np.ndarray,
               group: np.ndarray | None) -> pd.DataFrame:
    """Merged rows as folded ones: pod ``""``, the platform the newest pod's that names one
    (``group``: each row's of ``r``; None: every group is one row)."""
    if "pod" in out.columns:
        out = out.assign(pod="")
    if group is not None and "platform" in r.columns:
        p = r["platform"].fillna("").astype(str).to_numpy()
        named = np.flatnonzero((p != "") & (p != "nan"))
        last = np.full(len(starts), -1)
        np.maximum.at(last, group[named], named)
        out["platform"] = np.where(last >= 0, p[np.maximum(last, 0)], "")
    return out


def _multi(starts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The groups of several rows, their rows, and each such row's place among them."""
    sizes = np.diff(np.r_[starts, n])
    multi = np.flatnonzero(sizes > 1)
    return (multi, np.flatnonzero(np.repeat(sizes > 1, sizes)),
            np.repeat(np.arange(len(multi)), sizes[multi]))


def _merge_frame(r: pd.DataFrame, starts: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The groups of rows starting at ``starts`` merged into one row each, of the columns
    ``r`` has (list columns one array per row); and each row's group.  A lone row stands
    for itself: only groups of several rows have their hours and histograms merged, flat
    (most groups are one row, and merging every row cost seconds for a CronJob's 400,000
    pods)."""
    out, group = _merge_scalars(r, starts)
    multi, sub_rows, sub_group = _multi(starts, len(r))
    sub = FlatRows.of(r.iloc[sub_rows][[c for c in LIST_DTYPES if c in r.columns]])
    for col, flat in _merged_lists(sub.lists, sub_group, len(multi)).items():
        values = out[col].to_numpy(dtype=object).copy()
        for i, a in zip(multi.tolist(), flat.lists(), strict=True):
            values[i] = a  # one by one: a list of equal-length arrays would become 2-D
        out[col] = values
    return out, group


def _merge_scalars(r: pd.DataFrame, starts: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The newest row of each group, its counts and sums added, maxima and time span taken
    over the group, current values the newest that has one; and each row's group.  (In
    order of time within a group, newest last.)"""
    ends = np.r_[starts[1:], len(r)]
    group = np.repeat(np.arange(len(starts)), ends - starts)
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
            out[col] = runs.last_valid(r[col].to_numpy("float64"), group, len(starts))
    return out, group


def _merged_lists(lists: dict[str, Flat], group: np.ndarray, ngroups: int
                  ) -> dict[str, Flat]:
    """The list columns of rows (each row's group in ``group``) merged per group: hourly
    peaks take the larger, each bucket's counts and weights add."""
    out: dict[str, Flat] = {}
    if "mem_hour_max" in lists:
        values, offsets = lists["mem_hour_max"]
        if (np.diff(offsets) != 24).any():
            raise ValueError("hourly peaks: a row without 24 hours")
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else group
        hours = np.fmax.reduceat(values.reshape(-1, 24), starts, axis=0) if len(group) \
            else np.empty((0, 24))
        out["mem_hour_max"] = Flat((hours.ravel(), np.arange(ngroups + 1) * 24))
    for prefix in ("cpu", "mem"):
        if f"{prefix}_b" not in lists:
            continue
        buckets, offsets = lists[f"{prefix}_b"]
        cols = [c for c in (f"{prefix}_c", f"{prefix}_w") if c in lists]
        bucket, bounds, sums = sketch.sum_buckets(
            np.repeat(group, np.diff(offsets)), buckets, ngroups,
            [lists[c][0].astype("float64") for c in cols])
        out[f"{prefix}_b"] = Flat((bucket.astype("int16"), bounds))
        for col, v in zip(cols, sums, strict=True):
            counts = col.endswith("_c")  # whole: summed as floats, so rounded back
            out[col] = Flat(((np.rint(v) if counts else v).astype(LIST_DTYPES[col]), bounds))
    return out


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(ns, utc=True)
