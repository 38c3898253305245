"""The compiled pass over a chunk of samples: validation's checks of its numbers and times,
each pod's run and span, its memory limit's changes and the per-day rollup, in one pass
over the rows in C (``scanpass.c``) instead of some fifty numpy passes and a pandas frame
(docs/architecture.md, "The compiled pass").

It gives exactly what the numpy path gives (:func:`quotatune.rollup.sketch.rollup_rows`,
:func:`quotatune.rollup.spans.check_spans`, :meth:`quotatune.rollup.limits.LimitChanges.of`):
sums in numpy's pairwise order, each value's bucket found among the bounds numpy's own
:func:`~quotatune.rollup.sketch.bucket_index` draws (:func:`bucket_bounds`), maxima, counts
and last values that no order changes.  It takes only the usual chunk, each pod one run
in strictly increasing time and every value in range; for any other :func:`scan` returns
None and the caller takes the numpy path, which finds and names the problem.  Without the
compiled module (no C compiler at install) :data:`AVAILABLE` is False and every chunk
takes that path.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quotatune.model.chunk import UsageColumns
from quotatune.model.frames import MAX_VALUE, TIME_SPAN_NS, USAGE_OPTIONAL_FLOAT
from quotatune.rollup import sketch
from quotatune.rollup.flat import Flat, FlatRows
from quotatune.rollup.limits import LimitChanges
from quotatune.rollup.namehash import POD_KEY, NameColumn, category_hashes, name_hashes
from quotatune.rollup.spans import Overlap, PodSpans

try:
    from quotatune.rollup import scanpass  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: the numpy path
    scanpass = None

AVAILABLE = scanpass is not None
_CURRENT = [*sketch.CURRENT_COLUMNS, "restarts"]
# Weighted sums and weights need exp2 of every sample's time, whose last bit libm and numpy
# may round apart: a strategy that reads them takes the numpy path.
_WEIGHTED = {"cpu_w", "mem_w", "cpu_wsum", "mem_wsum", "w_sum"}
_KEY = ["namespace", "workload", "container"]


@functools.cache
def bucket_bounds(first: float) -> np.ndarray:
    """The least value :func:`quotatune.rollup.sketch.bucket_index` puts in each bucket (or
    above), found by bisecting the bit patterns of non-negative doubles (which order as the
    values do), all buckets at once."""
    want = np.arange(sketch.NBUCKETS)
    lo = np.zeros(sketch.NBUCKETS, dtype=np.uint64)
    hi = np.full(sketch.NBUCKETS, np.array(1e300).view(np.uint64))
    for _ in range(64):
        mid = lo + (hi - lo) // np.uint64(2)
        ok = sketch.bucket_index(mid.view(np.float64), first) >= want
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid + np.uint64(1))
    bounds = lo.view(np.float64)
    bounds.flags.writeable = False
    return bounds


@dataclass
class Scanned:
    """A chunk's pass: its newest time (ns), each pod run's first row, first and last
    times, the rows :class:`quotatune.rollup.limits.LimitChanges` keeps of the memory limit,
    and the rollup rows (per pod and UTC day, in the order the rows come) with the first
    row of each."""

    newest: int
    run_start: np.ndarray
    run_lo: np.ndarray
    run_hi: np.ndarray
    limit_rows: np.ndarray
    group_start: np.ndarray  # each rollup row's first row
    rows: FlatRows


def scan(chunk: UsageColumns, columns: Collection[str] | None,
         max_pods: int = 2**62) -> Scanned | None:
    """The pass over ``chunk`` for the rollup ``columns`` (None: all); None where the numpy
    path must take the chunk (see the module's doc), or where it holds more than
    ``max_pods`` pods."""
    wanted = set(sketch.ROLLUP_COLUMNS if columns is None else columns)
    if scanpass is None or wanted & _WEIGHTED or not len(chunk) or set(POD_KEY) - set(chunk.names):
        return None
    # Every optional number is checked as validation checks it; the current values are
    # those of the rollup.
    others = [c for c in USAGE_OPTIONAL_FLOAT if c in chunk.numbers]
    limit = others.index("memory_limit_bytes") if "memory_limit_bytes" in others else -1
    lo, hi = TIME_SPAN_NS
    # The pass adds a day to a sample's midnight in int64 nanoseconds: on the span's last
    # days (2262-04-10/11) that would overflow, so such a chunk is numpy's.
    hi -= 2 * sketch.DAY_NS
    scale = chunk.scale
    hists = [bucket_bounds(first) if wanted & {f"{p}_b", f"{p}_c"} else None
             for p, first in (("cpu", sketch.CPU_FIRST), ("mem", sketch.MEM_FIRST))]
    out = scanpass.scan(chunk.ts, scale, -(-lo // scale), hi // scale,
                        tuple(np.asarray(chunk.names[c][0], dtype=np.int32) for c in POD_KEY),
                        tuple(len(chunk.names[c][1]) for c in POD_KEY),
                        chunk.numbers["cpu_cores"], chunk.numbers["memory_working_set_bytes"],
                        tuple((chunk.numbers[c], *chunk.valid.get(c, (None, 0))) for c in others),
                        limit, MAX_VALUE,
                        "mem_hour_max" in wanted, *hists, max_pods)
    if out[0] != 0:
        return None
    (_, newest, run_start, run_lo, run_hi, g_start, g_day, g_first, g_last, cpu_sum, cpu_max,
     mem_sum, mem_max, hmax, cur_last, cpu_hist, mem_hist, kept) = out
    i64 = functools.partial(np.frombuffer, dtype=np.int64)
    f64 = functools.partial(np.frombuffer, dtype=np.float64)
    starts = i64(g_start)
    ngroups = len(starts)
    ends = np.r_[starts[1:], len(chunk)]
    rows: dict[str, Any] = {c: _text_at(chunk.names[c], starts) for c in _KEY}
    rows["pod"] = _text_at(chunk.names["pod"], starts)
    rows["day"] = sketch.utc_times(i64(g_day) * sketch.DAY_NS)
    rows["n"] = ends - starts
    rows["t_first"], rows["t_last"] = sketch.utc_times(i64(g_first)), sketch.utc_times(i64(g_last))
    rows["cpu_sum"], rows["cpu_max"] = f64(cpu_sum), f64(cpu_max)
    rows["mem_sum"], rows["mem_max"] = f64(mem_sum), f64(mem_max)
    if hmax is not None:
        rows["mem_hour_max"] = Flat((f64(hmax), np.arange(0, ngroups * 24 + 1, 24)))
    for prefix, hist in (("cpu", cpu_hist), ("mem", mem_hist)):
        if hist is not None:
            b = np.frombuffer(hist[0], dtype=np.int16)
            sketch.hist_columns(rows, prefix, b, np.frombuffer(hist[1], dtype=np.int32),
                                np.full(len(b), np.nan), i64(hist[2]))
    sketch.unasked(rows, ngroups)
    for col in _CURRENT:
        rows[col] = f64(cur_last[others.index(col)]) if col in others else \
            np.full(ngroups, np.nan)
    rows["platform"] = (_text_at(chunk.names["platform"], ends - 1)
                        if "platform" in chunk.names else "")
    rows = {c: rows[c] for c in sketch.ROLLUP_COLUMNS}
    lists = {c: v for c, v in rows.items() if isinstance(v, Flat)}
    frame = pd.DataFrame({c: v for c, v in rows.items() if c not in lists})
    return Scanned(newest=newest, run_start=i64(run_start), run_lo=i64(run_lo),
                   run_hi=i64(run_hi), limit_rows=i64(kept), group_start=starts,
                   rows=FlatRows(frame, lists, sketch.ROLLUP_COLUMNS))


def _text_at(column: tuple[np.ndarray, pd.Index], rows: np.ndarray) -> np.ndarray:
    """The names of ``rows`` (object array of text), as the numpy path gives them."""
    codes, names = column
    at = codes[rows]
    if len(names) > 2 * len(at):  # a few rows of many names: only theirs made text
        return np.asarray(names[at].astype(str), dtype=object)
    return np.asarray(names.astype(str), dtype=object)[at]


def name_columns(chunk: UsageColumns, cols: list[str]) -> list[NameColumn]:
    """:func:`quotatune.rollup.namehash.name_columns` of the chunk's names."""
    return [(chunk.names[c][0], category_hashes(chunk.names[c][1])) for c in cols]


def pod_keys(chunk: UsageColumns, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The container's and the pod's name hashes of ``rows`` (as
    :func:`quotatune.rollup.namehash.frame_hashes` and ``pod_hashes`` give them)."""
    return (name_hashes(name_columns(chunk, _KEY), rows),
            name_hashes(name_columns(chunk, POD_KEY), rows))


@dataclass
class Taken:
    """What a chunk adds: its limit changes and its rollup rows."""

    limits: LimitChanges
    rows: FlatRows
    hashes: tuple[np.ndarray, np.ndarray]  # the rows' pods' and containers' name hashes


def take(chunk: UsageColumns, spans: PodSpans, columns: list[str] | None, newest_ns: int,
         pods: int) -> Taken | None:
    """The chunk's limit changes and rollup rows, its pods' spans added to ``spans``
    (:class:`quotatune.rollup.spans.Overlap` if one repeats a time seen before, as
    :func:`quotatune.rollup.spans.check_spans` raises); None, with ``spans`` unchanged,
    where the numpy path must take the chunk: a value validation refuses, a pod in two
    runs or out of time order, a time after ``newest_ns`` (ns since 1970), or more than
    ``pods`` pods (a chunk of a CronJob's pods: the numpy path rolls it up a part at a
    time, where its rows at once took 200 MB more)."""
    got = scan(chunk, columns, pods)
    if got is None or got.newest > newest_ns:
        return None
    keys = name_hashes(name_columns(chunk, POD_KEY), got.run_start)
    if len(np.unique(keys)) != len(keys):
        return None
    if not spans.add(keys, got.run_lo, got.run_hi):
        raise Overlap
    kept = got.limit_rows
    limits = LimitChanges()
    if len(kept):
        container, pod = pod_keys(chunk, kept)
        limits = LimitChanges({"container": container, "pod": pod,
                               "t": chunk.ts[kept] * chunk.scale,
                               "limit": chunk.numbers["memory_limit_bytes"][kept]})
    # Each row's pod (its run), whose hash is known already, and its container's.
    pod_of = np.searchsorted(got.run_start, got.group_start, side="right") - 1
    return Taken(limits, got.rows,
                 (keys[pod_of], name_hashes(name_columns(chunk, _KEY), got.group_start)))
