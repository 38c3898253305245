"""Mergeable per-day, per-container summaries of usage ("rollups").

What the store must call::

    daily_rollup(day_usage: pandas.DataFrame) -> pandas.DataFrame

``day_usage`` is a canonical usage frame (usually one UTC day of it; several days are fine,
rows are grouped by UTC day).  The result has one row per (namespace, workload, container,
pod, day) with the columns in :data:`ROLLUP_COLUMNS`; it is pure (no clock, no I/O) and rollups of
disjoint samples merge exactly: :func:`quotatune.analysis.recommend.recommend_from_rollups`
reads a concatenation of them.  Rewriting one day means recomputing that day's rollup from
that day's samples; nothing else changes.  Wiring, as the benchmark does it::

    store = Store(root, rollup=daily_rollup, rollup_version=ROLLUP_VERSION)
    rollups = store.read_rollups(columns=rollup_columns(strategy))   # analyze.recommend
    recs = recommend_from_rollups(rollups, store.read_specs(), store.read_events(),
                                  strategy=strategy)

Rows are per pod (container instance) because the VPA and KRR emulations size from per-pod
facts (VPA keeps one memory peak per container instance and day, KRR takes the largest of the
pods' CPU percentiles).  Everything else reads a container's history: grouping rows by
namespace/workload/container and summing counts / taking maxima merges pods exactly, as
:class:`quotatune.analysis.summary.History` does.  A frame without a ``pod`` column (e.g.
rollups computed elsewhere, one row per container) reads as one pod named ``""``.

What a rollup keeps, and why it is exact enough:

* sample count, first/last sample time, sums and maxima (exact);
* the peak memory of every hour (exact; daily peaks and start-up peaks come from these);
* sparse log-bucket histograms of CPU and of memory.  Bucket ``m`` starts at
  ``first * (r**m - 1) / (R - 1)`` with ``R = 1.05`` and ``r = R**(1/10)``: every tenth fine
  boundary is exactly a boundary of the Kubernetes VPA histogram (first bucket 0.01 core /
  1e7 bytes, growing 5 %), so the VPA strategy is computed on its own buckets, and any other
  percentile is known to within one fine bucket (< 0.5 % relative, reported at the bucket's
  upper end, i.e. never below the true value).  Each bucket carries its count and its
  recency weight ``2 ** ((t - day_start) / 24 h)``; multiplying by
  ``2 ** ((day_start - ref) / 24 h)`` when merging gives exactly the decayed histogram a
  recommender with a 24 h half-life keeps.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS, utc_ns
from quotatune.model.errors import RowError
from quotatune.rollup import runs
from quotatune.rollup.flat import Flat, FlatRows

RATIO = 1.05  # VPA's bucket growth
FINE = 10  # fine buckets per VPA bucket
FINE_RATIO = RATIO ** (1.0 / FINE)
CPU_FIRST = 0.01  # cores: VPA's first CPU bucket
MEM_FIRST = 1e7  # bytes: VPA's first memory bucket
# VPA's histograms end at 1000 cores and 1e12 bytes; both give the same bucket count.
NBUCKETS = int(math.log(1000.0 * (RATIO - 1) / CPU_FIRST + 1) / math.log(FINE_RATIO)) + 1
# A group's dense count slice may be this many times its rows before rows are sorted instead.
SPARSE_SPREAD = 8
HALF_LIFE_S = 24 * 3600.0  # decay half-life of the recency weights (VPA's default)
DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9

# Bump when the rollup columns or their meaning change: stored rollups of another version are
# recomputed from the stored samples (Store(rollup=daily_rollup, rollup_version=...)).
ROLLUP_VERSION = "2"  # 2: one row per pod
CURRENT_COLUMNS = ["cpu_request_cores", "cpu_limit_cores", "memory_request_bytes",
                   "memory_limit_bytes"]
# What every strategy reads; histograms and hourly peaks are read only by those that use them.
POD_KEY = [*KEY_COLUMNS, "pod"]  # the rollup's row key, besides the day
BASE_COLUMNS = [*POD_KEY, "day", "n", "t_first", "t_last", "cpu_sum", "cpu_max", "mem_sum",
                "mem_max", *CURRENT_COLUMNS, "restarts", "platform"]
CPU_COUNTS = ("cpu_b", "cpu_c")
CPU_DECAYED = ("cpu_b", "cpu_w")
MEM_COUNTS = ("mem_b", "mem_c")
MEM_DECAYED = ("mem_b", "mem_w")
ROLLUP_COLUMNS = [
    *POD_KEY, "day", "n", "t_first", "t_last",
    "cpu_sum", "cpu_max", "cpu_wsum", "mem_sum", "mem_max", "mem_wsum", "w_sum",
    "mem_hour_max", "cpu_b", "cpu_c", "cpu_w", "mem_b", "mem_c", "mem_w",
    *CURRENT_COLUMNS, "restarts", "platform",
]


def bucket_index(values: np.ndarray, first: float) -> np.ndarray:
    """Fine bucket of each value (negative values count as 0)."""
    # floor(log(v * (R - 1) / first + 1) / log(r)), in place: the same operations in the
    # same order (the PromQL of the Prometheus path mirrors them), without six temporaries.
    # A negative value is raised to 1 just before the log, where any value >= 0 already is,
    # so those take exactly the operations above; and a log >= 0 makes the cast's truncation
    # the floor (two passes of nine fewer, and no array made only to clip the values at 0).
    v = np.asarray(values, dtype="float64") * (RATIO - 1)
    v /= first
    v += 1.0
    np.maximum(v, 1.0, out=v)
    np.log(v, out=v)
    v /= math.log(FINE_RATIO)
    np.minimum(v, NBUCKETS - 1, out=v)
    return v.astype("int64")


def bucket_start(index: np.ndarray | int, first: float, fine: int = 1) -> np.ndarray:
    """Start of fine bucket ``index`` (``fine=FINE``: of VPA bucket ``index``)."""
    m = np.asarray(index, dtype="float64") * fine
    return first * (np.power(FINE_RATIO, m) - 1.0) / (RATIO - 1)


# What a row holds in place of what was not asked for (shared: never written to).
NO_HOURS = np.full(24, np.nan)
_NO_BUCKETS = (np.empty(0, dtype="int16"), np.empty(0, dtype="int32"), np.empty(0))
for _a in (NO_HOURS, *_NO_BUCKETS):
    _a.flags.writeable = False


def empty_rollup() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in ROLLUP_COLUMNS})


def daily_rollup(day_usage: pd.DataFrame, columns: Collection[str] | None = None, *,
                 pod_runs: np.ndarray | None = None) -> pd.DataFrame:
    """Summarise a canonical usage frame into one row per pod's container and UTC day.

    ``columns`` (default: all) are the rollup columns the caller will read, as
    :func:`quotatune.analysis.recommend.rollup_columns` names them for a strategy: the
    histograms, hourly peaks and recency-weighted sums outside it are left empty (NaN, or
    no buckets), which saves most of their work.  Such rows merge with each other, never
    go to the store.  ``pod_runs``: True where each pod's rows start, when the caller knows
    every pod's rows to be one run in strictly increasing time (what
    :func:`quotatune.rollup.spans.check_spans` returns): the runs are not looked for again.

    Every sample must carry both measurements.  A NaN ``cpu_cores`` or
    ``memory_working_set_bytes`` raises the :class:`~quotatune.model.InputError` that
    :func:`quotatune.model.validate_usage` gives it (its row: the position in the frame):
    a row counts each sample once for both (``n``, the means' divisor), so one measurement
    cannot be left out alone, and leaving the sample out would hide what every entry point
    refuses.  Missing requests, limits and restarts are allowed (the last known is kept)."""
    if day_usage.empty:
        return empty_rollup()
    return rollup_rows(day_usage, columns, pod_runs=pod_runs).framed()


def rollup_rows(day_usage: pd.DataFrame, columns: Collection[str] | None = None, *,
                pod_runs: np.ndarray | None = None) -> FlatRows:
    """:func:`daily_rollup`'s rows, their list columns flat, for a frame with rows."""
    out, by_key = rollup_columns(day_usage, columns, pod_runs=pod_runs)
    # A list column not asked for stays one shared empty list per row, in the frame.
    lists = {c: v for c, v in out.items() if isinstance(v, Flat)}
    frame = pd.DataFrame({c: v for c, v in out.items() if c not in lists})
    rows = FlatRows(frame, lists, ROLLUP_COLUMNS)
    return rows if by_key is None else rows.take(by_key)


def rollup_columns(day_usage: pd.DataFrame, columns: Collection[str] | None = None, *,
                   pod_runs: np.ndarray | None = None
                   ) -> tuple[dict[str, Any], np.ndarray | None]:
    """:func:`daily_rollup`'s columns (list columns as :class:`Flat`) and the order that
    sorts its rows by key, then day (None: they are in it), for a frame with rows."""
    if "pod" not in day_usage.columns:
        day_usage = day_usage.assign(pod="")
    ts = utc_ns(day_usage["timestamp"])
    n = len(ts)
    # Hours, not days, per row: the hourly peaks need them, and a day starts only where an
    # hour does, so day boundaries are looked for among the few hour boundaries.
    hour = ts // HOUR_NS
    # Every group = (pod's container, day) must be one contiguous run in time order.  An
    # export usually lists each series whole and in time order: then the rows are used as
    # they are (no sort, no gathers), which was most of the time of a large import, and only
    # the runs are numbered (in order of first appearance, as groupby(sort=False) would).
    # Runs the caller found already (each pod one run, in time order) are those groups, in
    # that order, once cut at midnights.
    hour_steps = _steps(hour)
    if pod_runs is not None:
        change = pod_runs.copy()
    else:
        names = [_name_codes(day_usage[c]) for c in POD_KEY]
        change = runs.changes([codes for codes, _ in names], n)
    change[hour_steps] |= hour[hour_steps] // 24 != hour[hour_steps - 1] // 24
    starts = np.flatnonzero(change)
    order: np.ndarray | None = None
    run_key: np.ndarray | None = None
    if pod_runs is None:
        day0, span = int(hour.min()) // 24, int(hour.max()) // 24 - int(hour.min()) // 24 + 1
        run_key = (pd.factorize(runs.combined(names, starts))[0].astype("int64") * span
                   + hour[starts] // 24 - day0)
    if run_key is not None and not runs.one_run_per_key(run_key, change, ts):
        gkey = pd.factorize(runs.combined(names))[0].astype("int64") * span + (hour // 24 - day0)
        order = np.lexsort((ts, gkey))
        gkey, ts, hour = gkey[order], ts[order], hour[order]
        change = np.r_[True, gkey[1:] != gkey[:-1]]
        starts = np.flatnonzero(change)
        run_key = gkey[starts]
        hour_steps = _steps(hour)

    def take(a: np.ndarray) -> np.ndarray:
        return a if order is None else a[order]

    cpu = take(day_usage["cpu_cores"].to_numpy("float64"))
    mem = take(day_usage["memory_working_set_bytes"].to_numpy("float64"))
    ngroups = len(starts)
    ends = np.r_[starts[1:], len(ts)]
    lengths = ends - starts
    wanted = set(ROLLUP_COLUMNS if columns is None else columns)
    group_day = hour[starts] // 24
    w: np.ndarray | None = None
    if wanted & {"cpu_w", "mem_w", "cpu_wsum", "mem_wsum", "w_sum"}:
        w = ts - np.repeat(group_day * DAY_NS, lengths)  # since the day's midnight
        w = w / 1e9
        w /= HALF_LIFE_S
        np.exp2(w, out=w)

    first_rows = starts if order is None else order[starts]
    # Columns gathered in a dict and framed once: inserting 25 columns one by one into a
    # frame cost more than computing them for a day of many short series.
    out: dict[str, Any] = {c: _text_at(day_usage[c], first_rows) for c in KEY_COLUMNS}
    out["pod"] = _text_at(day_usage["pod"], first_rows, missing="")
    out["day"] = utc_times(group_day * DAY_NS)
    out["n"] = ends - starts
    out["t_first"] = utc_times(ts[starts])
    out["t_last"] = utc_times(ts[ends - 1])
    out["cpu_sum"] = np.add.reduceat(cpu, starts)
    out["cpu_max"] = np.maximum.reduceat(cpu, starts)
    out["mem_sum"] = np.add.reduceat(mem, starts)
    out["mem_max"] = np.maximum.reduceat(mem, starts)
    for col, measured, sums in (("cpu_cores", cpu, out["cpu_sum"]),
                                ("memory_working_set_bytes", mem, out["mem_sum"])):
        if np.isnan(sums).any():  # a sum is NaN when a sample lacks the value: say which
            _refuse_missing(col, measured, order)
    if w is not None:
        for col, values in (("cpu_wsum", cpu), ("mem_wsum", mem), ("w_sum", None)):
            out[col] = np.add.reduceat(w if values is None else values * w, starts)
    if "mem_hour_max" in wanted:
        # Rows are sorted by group, then time: each hour of a group is one run, starting at
        # a group's start or where the hour changes.
        at_hour = change.copy()
        at_hour[hour_steps] = True
        hstarts = np.flatnonzero(at_hour)
        slot = (np.cumsum(change[hstarts]) - 1) * 24 + hour[hstarts] % 24
        hmax = np.full(ngroups * 24, np.nan)
        hmax[slot] = np.maximum.reduceat(mem, hstarts)
        out["mem_hour_max"] = Flat((hmax, np.arange(0, ngroups * 24 + 1, 24)))
    for prefix, values, first in (("cpu", cpu, CPU_FIRST), ("mem", mem, MEM_FIRST)):
        if wanted & {f"{prefix}_b", f"{prefix}_c", f"{prefix}_w"}:
            b, c, wt, offsets = _sparse_hist(starts, lengths, bucket_index(values, first), w)
            hist_columns(out, prefix, b, c, wt, offsets)
    unasked(out, ngroups)
    for col in CURRENT_COLUMNS + ["restarts"]:
        if col in day_usage.columns:
            out[col] = runs.last_valid_runs(take(day_usage[col].to_numpy("float64")), starts)
        else:
            out[col] = np.full(ngroups, np.nan)
    if "platform" in day_usage.columns:
        last_rows = ends - 1 if order is None else order[ends - 1]
        out["platform"] = day_usage["platform"].iloc[last_rows].astype(str).to_numpy()
    else:
        out["platform"] = ""
    out = {c: out[c] for c in ROLLUP_COLUMNS}  # one order, whichever pass made them
    if order is None and run_key is not None:
        # Same rows in the same order as sorting would give (groups by key, then day).
        by_key = np.argsort(run_key, kind="stable")
        if (by_key != np.arange(ngroups)).any():
            return out, by_key
    return out, None


def _refuse_missing(col: str, values: np.ndarray, order: np.ndarray | None) -> None:
    """Raise validation's error for the first sample (in the caller's row order) whose
    ``col`` is NaN; return where there is none (a NaN sum of infinities)."""
    missing = np.flatnonzero(np.isnan(values))
    if len(missing):
        row = int(missing[0] if order is None else order[missing].min())
        raise RowError("usage frame", col, row, "missing value")


def hist_columns(out: dict[str, Any], prefix: str, b: np.ndarray, c: np.ndarray,
                 w: np.ndarray, offsets: np.ndarray) -> None:
    out[f"{prefix}_b"] = Flat((b.astype("int16"), offsets))
    out[f"{prefix}_c"] = Flat((c.astype("int32"), offsets))
    out[f"{prefix}_w"] = Flat((w, offsets))


def unasked(out: dict[str, Any], ngroups: int) -> None:
    """The columns not computed (not asked for): NaN weighted sums, no hours, no buckets."""
    for col in ("cpu_wsum", "mem_wsum", "w_sum"):
        out.setdefault(col, np.full(ngroups, np.nan))
    if "mem_hour_max" not in out:
        out["mem_hour_max"] = pd.Series([NO_HOURS] * ngroups, dtype=object)
    for prefix in ("cpu", "mem"):
        if f"{prefix}_b" not in out:
            for col, empty in zip(("b", "c", "w"), _NO_BUCKETS, strict=True):
                out[f"{prefix}_{col}"] = pd.Series([empty] * ngroups, dtype=object)


def utc_times(ns: np.ndarray) -> Any:
    """Nanoseconds since 1970 as UTC times (``to_datetime`` of integers cost 20x more)."""
    return pd.array(ns.view("datetime64[ns]"), dtype="datetime64[ns, UTC]")


def _steps(hour: np.ndarray) -> np.ndarray:
    """Rows whose hour differs from the row before's (the first row excepted)."""
    return np.flatnonzero(hour[1:] != hour[:-1]) + 1


def _text_at(s: pd.Series, rows: np.ndarray, missing: str | None = None) -> np.ndarray:
    """``s`` at ``rows`` as text (object array); a missing value reads as ``missing``, or
    as ``astype(str)`` spells it.  A categorical is looked up in its categories: converting
    the rows' values instead cost as much as a whole rollup step."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.array.codes[rows]
        cats = s.cat.categories
        if len(cats) > 2 * len(codes) and (missing is not None or codes.min(initial=0) >= 0):
            # A slice of a chunk of many names (its pods cut into parts): only the rows'
            # names, not every category each time.
            ok = codes >= 0
            out = np.full(len(codes), missing, dtype=object)
            out[ok] = np.asarray(cats[codes[ok]].astype(str), dtype=object)
            return out
        text = np.asarray(cats.astype(str), dtype=object)
        if missing is not None:
            return np.r_[np.array([missing], dtype=object), text][codes + 1]
        if not len(codes) or codes.min() >= 0:
            return text[codes]
    values = s.iloc[rows]
    if missing is None:
        return values.astype(str).to_numpy()
    return values.astype(str).where(values.notna().to_numpy(), missing).to_numpy()


def _name_codes(s: pd.Series) -> tuple[np.ndarray, int]:
    """A name column's codes (-1: missing) and how many distinct names it has."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.array.codes, len(s.cat.categories)  # the array's codes: no Series built
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    return codes, len(uniq)


def _sparse_hist(
    starts: np.ndarray, lengths: np.ndarray, bucket: np.ndarray, w: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Non-empty (bucket, count, weight) per group, grouped contiguously; plus offsets.

    Rows are grouped in runs (``starts``), so each group counts into its own slice of one
    dense array, as wide as the buckets it spans: linear in the rows, where sorting them
    (np.unique) or counting into every bucket of every group cost several times more.  Groups
    of a few samples over many buckets (a CronJob's pods) are sorted after all."""
    lo = np.minimum.reduceat(bucket, starts)
    width = np.maximum.reduceat(bucket, starts) - lo + 1
    base = np.r_[0, np.cumsum(width)]
    if base[-1] > SPARSE_SPREAD * len(bucket):
        return _sorted_hist(starts, lengths, bucket, w)
    slot = np.repeat(base[:-1] - lo, lengths)
    slot += bucket
    counts = np.bincount(slot, minlength=int(base[-1]))
    filled = np.flatnonzero(counts)
    weights = (np.full(len(filled), np.nan) if w is None  # not asked for: no weights
               else np.bincount(slot, weights=w, minlength=int(base[-1]))[filled])
    # Each group's first filled bucket, found by searching the few group bounds among the
    # filled slots (sorted), not each filled slot among the bounds.
    offsets = np.asarray(np.searchsorted(filled, base))
    g = np.repeat(np.arange(len(starts)), np.diff(offsets))
    return filled - base[g] + lo[g], counts[filled], weights, offsets


def _sorted_hist(
    starts: np.ndarray, lengths: np.ndarray, bucket: np.ndarray, w: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_sparse_hist` by sorting (group, bucket) keys: the same buckets, counts and
    weights (each summed over its rows in their order), for groups sparse in their span."""
    group = np.repeat(np.arange(len(starts), dtype="int64"), lengths)
    ones = np.ones(len(bucket))
    b, offsets, sums = sum_buckets(group, bucket, len(starts),
                                   [ones] if w is None else [ones, w])
    weights = np.full(len(b), np.nan) if w is None else sums[1]
    return b, sums[0].astype("int64"), weights, offsets


def sum_buckets(group: np.ndarray, bucket: np.ndarray, ngroups: int,
                weights: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Pairs of (group, bucket) summed per distinct pair, in order of group, then bucket:
    each distinct pair's bucket, where each of the ``ngroups`` groups' pairs start (and one
    past the last), and each of ``weights`` (a value per pair given) summed per distinct
    pair in the order given.  The one place rollup histograms are merged by sorting (a
    day's sparse groups, pieces of a day, a history's rows)."""
    key = np.asarray(group, dtype="int64") * NBUCKETS + np.asarray(bucket, dtype="int64")
    uniq, inv = np.unique(key, return_inverse=True)
    sums = [np.bincount(inv, weights=np.asarray(w, dtype="float64"), minlength=len(uniq))
            for w in weights]
    offsets = np.asarray(np.searchsorted(uniq // NBUCKETS, np.arange(ngroups + 1)))
    return uniq % NBUCKETS, offsets, sums
