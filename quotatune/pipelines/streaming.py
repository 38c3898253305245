"""Files to per-day rollups in memory, for ``--from``: the same chunked readers as
``import`` (:func:`quotatune.sources.registry.iter_files`), no store written.

Each chunk is rolled up per container and UTC day as it arrives
(:func:`quotatune.rollup.sketch.daily_rollup`) and the pieces of a day are merged
(:func:`quotatune.rollup.merge.merge_rollups`), so memory follows the number of containers
and one chunk.  Samples repeated across chunks (two overlapping exports) must count once:
each pod's time span is tracked, and if a chunk overlaps what was already seen for the same
pod, the files are read again through the per-day staging of the store, which deduplicates
exactly.  See docs/architecture.md, "The flow".
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quotatune.analysis.oom import LIMIT_AT_OOM, limits_at_ooms, oom_events
from quotatune.model import KEY_COLUMNS, Target
from quotatune.model.chunk import UsageColumns
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.model.times import drop_future, drop_future_events, future_limit, future_notes
from quotatune.pipelines.prefetch import prefetched
from quotatune.pipelines.progress import NO_PROGRESS, Progress, files_read
from quotatune.rollup import scan as compiled_pass
from quotatune.rollup.currents import PodCurrents
from quotatune.rollup.flat import FlatRows
from quotatune.rollup.limits import LimitChanges
from quotatune.rollup.merge import fold_pods, fold_rows, merge_rollups
from quotatune.rollup.namehash import POD_KEY
from quotatune.rollup.scan import take as take_compiled
from quotatune.rollup.sketch import rollup_rows
from quotatune.rollup.spans import Overlap, PodSpans, check_spans
from quotatune.sources.registry import iter_files
from quotatune.store.staging import DayStaging, from_arrow, merge_day

FOLD_ROWS = 50_000  # pod rows folded into what is held at a time


@dataclass
class FileRollups:
    """What ``--from`` files hold, summarised: ``rollups`` has one row per container and
    UTC day (the columns of :data:`quotatune.rollup.sketch.ROLLUP_COLUMNS`); ``usage`` holds
    the raw samples of the target only when they were asked for (names as text)."""

    rollups: pd.DataFrame
    specs: pd.DataFrame
    events: pd.DataFrame
    usage: pd.DataFrame | None = None
    samples: int = 0
    # Folded rollups: each pod's limit on the days of the OOM kills whose limit the samples
    # do not give (:meth:`quotatune.rollup.currents.PodCurrents.limit_rows`).
    limit_rows: pd.DataFrame | None = None
    future: int = 0  # samples left out, stamped in the future
    future_events: int = 0  # events left out, likewise
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def rollups_from_files(
    files: list[Path], fmt: str | None, target: Target, *, keep_samples: bool = False,
    now: pd.Timestamp | None = None, progress: Progress = NO_PROGRESS,
    columns: list[str] | None = None, fold: bool = False, compiled: bool = True,
) -> FileRollups:
    """Per-day rollups, specs and events of ``target`` in ``files`` (plus its raw samples
    when ``keep_samples``); duplicated samples count once, samples and events stamped after
    ``now`` (default: the clock) + 10 minutes are left out with a note.  ``columns``: only these
    rollup columns are computed (see :func:`quotatune.rollup.sketch.daily_rollup`).
    ``fold``: the rollups come one row per container and day, pods folded as the chunks
    arrive (:func:`quotatune.rollup.merge.fold_pods`), for a strategy that sizes containers
    as a whole: a CronJob's pods, one row each, then never pile up.  Their current values
    are those the whole days give (:class:`quotatune.rollup.currents.PodCurrents`).
    ``compiled``: the usual chunk of a whole file through the compiled pass, where it was
    built (:mod:`quotatune.rollup.scan`; False: every chunk through numpy, the same
    result)."""
    limit = future_limit(now)
    args = (files, fmt, target, keep_samples, limit, progress, columns, fold, compiled)
    try:
        out = _read(*args, exact=False)
    except Overlap:
        out = _read(*args, exact=True)
    if out.rollups.empty and out.specs.empty and out.events.empty:
        # Every row from the future says more than "no data": the clock is the problem.
        late = "".join(f"; {n}" for n in future_notes(limit, out.future, out.future_events))
        raise InputError(f"no data in the given files{late}")
    return out


@dataclass
class _Scan:
    """What is gathered besides the samples (read by the caller after the last chunk): the
    reader thread fills ``acc``, ``known`` and the ``future`` counts; ``spans`` and
    ``limits`` are filled beside the rollups (on the exact path, ``limits`` from each whole
    day's samples)."""

    acc: Collected = field(default_factory=Collected)
    known: set[str] = field(default_factory=set)
    future: int = 0
    future_events: int = 0
    limits: list[LimitChanges] = field(default_factory=list)
    spans: PodSpans = field(default_factory=lambda: PodSpans())
    currents: PodCurrents | None = None  # when the pods are folded
    _limit_rows: int = 0  # rows in ``limits`` when they were last compacted

    def compact_limits(self) -> None:
        """A pod cut across chunks (or read again) repeats its rows: past twice the rows
        joined last time, the parts are joined again (a CronJob month: a row or two for
        each of 1.7 M pods, sorted a few times rather than every 100,000 rows)."""
        rows = sum(map(len, self.limits))
        if rows > 2 * max(self._limit_rows, 100_000):
            self.limits = [LimitChanges.joined(self.limits)]
            self._limit_rows = len(self.limits[0])


def _chunks(files: list[Path], fmt: str | None, target: Target, limit: pd.Timestamp,
            progress: Progress, scan: _Scan, staging: DayStaging | None, typed: bool
            ) -> Iterator[pd.DataFrame | UsageColumns]:
    """The target's samples of each chunk, to be checked for overlaps and rolled up by the
    caller; with a ``staging`` (the exact path) they go there instead.  With ``typed``, a
    whole file's usual chunk comes as typed columns, for the compiled pass.  Runs on the reader
    thread, which decoding and validation keep the busier of the two: the overlap and limit
    checks of the usual path are the caller's, beside the rollups."""
    label = "reading files" if staging is None else "reading files again (overlaps)"
    # Typed columns for the compiled pass: for the whole of the files, rolled up as they
    # come (a target's rows, or the exact path's staging, need the frame anyway).
    typed = typed and compiled_pass.AVAILABLE and staging is None and target.is_all
    chunks = iter_files(files, fmt, typed=typed)
    for _, _path, chunk in files_read(progress, chunks, len(files), label):
        scan.acc.specs = _cat(scan.acc.specs, chunk.specs)
        events, late = drop_future_events(chunk.events, limit)
        scan.future_events += late
        scan.acc.events = _cat(scan.acc.events, events)
        scan.acc.notes += chunk.notes
        scan.acc.errors += chunk.errors
        if chunk.columns is not None:
            yield chunk.columns  # checked by the caller, beside the rollup
            continue
        usage = chunk.usage
        if usage.empty:
            continue
        if not target.is_all:
            scan.known |= _names(usage)
            usage = usage[target.mask(usage).to_numpy()]
            if usage.empty:  # a chunk of other workloads only
                continue
        in_time = _in_time(usage, scan, limit)
        if in_time is None:
            continue
        if staging is not None:
            staging.add(in_time)
            continue
        yield in_time


def _in_time(usage: pd.DataFrame, scan: _Scan, limit: pd.Timestamp) -> pd.DataFrame | None:
    """``usage`` without the samples stamped after ``limit`` (counted); None if none is
    left."""
    usage, late = drop_future(usage, limit)
    scan.future += late
    return None if usage.empty else usage


def _read(files: list[Path], fmt: str | None, target: Target, keep_samples: bool,
          limit: pd.Timestamp, progress: Progress, columns: list[str] | None, fold: bool,
          compiled: bool, *, exact: bool) -> FileRollups:
    scan = _Scan(currents=PodCurrents() if fold else None)
    held = _Held(columns, scan.currents)
    samples: list[pd.DataFrame] = []
    dup = 0
    with tempfile.TemporaryDirectory(prefix="quotatune-") as tmp:
        staging = DayStaging(Path(tmp) / "days")
        reader = _chunks(files, fmt, target, limit, progress, scan, staging if exact else None,
                         compiled)
        for item in prefetched(reader):
            if isinstance(item, UsageColumns):
                taken = take_compiled(item, scan.spans, columns, limit.value,
                                      FOLD_ROWS if fold else len(item) + 1)
                if taken is not None:
                    scan.limits.append(taken.limits)
                    scan.compact_limits()
                    held.add_rows(taken.rows, taken.hashes)
                    continue
                # Something the pass does not take: the numpy path finds and names it.
                checked = _in_time(item.frame(), scan, limit)
                if checked is None:
                    continue
                usage = checked
            else:
                usage = item
            pod_runs = check_spans(usage, scan.spans)
            scan.limits.append(LimitChanges.of(usage, pod_runs))
            scan.compact_limits()
            if keep_samples and not target.is_all:
                samples.append(usage)
            for part, part_runs in _by_pods(usage, pod_runs) if fold else [(usage, pod_runs)]:
                held.add(part, part_runs)
        if exact:
            progress.phase("rolling up days", len(staging.days()))
            for day in staging.days():
                day_rows = from_arrow(staging.take(day))
                # From the whole day: chunks that interleave a pod's times (why this path
                # runs) would each keep rows that are not the pod's changes; and before the
                # duplicates go, which keep the row of the file read first.
                scan.limits.append(LimitChanges.of(day_rows))
                scan.compact_limits()
                frame, d = merge_day(day_rows)
                del day_rows
                dup += d
                held.add(frame, None)
                if keep_samples and not target.is_all:
                    samples.append(frame)
                progress.advance()
                held.fold_now()
            staging.close()
    rollups = held.result()
    if scan.currents is not None:
        rollups = scan.currents.resolve(rollups)
    acc, known, future, limits = scan.acc, scan.known, scan.future, scan.limits
    if dup:
        acc.notes.append(f"ignored {dup} duplicated sample(s) across the input files")
    acc.notes += future_notes(limit, future, scan.future_events)
    specs, events = acc.specs, acc.events
    if not events.empty and limits:
        # The limit in force at each OOM kill, as the whole-frame path finds it in the samples
        # (the limits' change points give the same answer as every sample).
        annotated = limits_at_ooms(LimitChanges.joined(limits), events)
        events = events if annotated is None else annotated
    if not target.is_all:
        if rollups.empty and specs.empty:
            target.select(pd.DataFrame(columns=KEY_COLUMNS), known)  # raises, with hints
        if rollups.empty:
            specs = target.select(specs, known | _names(specs))
        elif not specs.empty:
            specs = specs[target.mask(specs)]
        if not events.empty:
            events = events[target.mask(events)]
    limit_rows = None
    if scan.currents is not None:
        kills = oom_events(events)
        if LIMIT_AT_OOM in kills.columns:
            kills = kills[pd.to_numeric(kills[LIMIT_AT_OOM], errors="coerce").isna()]
        limit_rows = scan.currents.limit_rows(kills)
    raw = None
    if keep_samples and samples:
        raw = _as_text(pd.concat(samples, ignore_index=True))
    n = int(rollups["n"].sum()) if not rollups.empty else 0
    return FileRollups(rollups=rollups, specs=specs, events=events, usage=raw, samples=n,
                       notes=acc.notes, errors=acc.errors, limit_rows=limit_rows,
                       future=future, future_events=scan.future_events)


# A fold held flat moves every list value a few times; a frame of one array per row costs an
# object a row and list column (about 0.2 us each).  Pods of a few samples (a CronJob's: 24
# hours and 3 buckets a row, 1.7 M pods a month) fold flat in 10.6 s where their arrays took
# 13 s; a week of long-lived pods (300 buckets a row) folded its arrays in 0.1 s, flat in
# 1.3 s.  Flat below this many values a list, on average over a row's list columns.
FLAT_ENTRIES_PER_ROW = 16


class _Held:
    """The rollups of the chunks so far.  Merged per pod and day as they grow: merged when
    they are 4x what was merged before (pieces shrink only where a chunk cut a pod's day).
    With ``currents`` (folding), folded per container and day as soon as :data:`FOLD_ROWS`
    rows wait (a chunk of a CronJob's pods, too), their current values left to
    ``currents``; held flat (:mod:`quotatune.rollup.flat`) when the first piece's lists are
    short (:data:`FLAT_ENTRIES_PER_ROW`), as frames otherwise."""

    def __init__(self, columns: list[str] | None, currents: PodCurrents | None) -> None:
        self.columns, self.currents = columns, currents
        self.pieces: list[Any] = []  # frames, or FlatRows when folding flat
        self.flat: bool | None = None
        self.folded: Any = None  # folding: what the pieces so far folded to
        self.pending = self.combined = 0  # rows held; of those, rows folded already

    def add(self, part: pd.DataFrame, pod_runs: np.ndarray | None) -> None:
        if not part.empty:
            self.add_rows(rollup_rows(part, self.columns, pod_runs=pod_runs))

    def add_rows(self, rows: FlatRows,
                 hashes: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """A chunk's rollup rows (:func:`quotatune.rollup.sketch.rollup_rows`); ``hashes``:
        their pods' and containers' name hashes, where the caller has them."""
        if self.currents is None:
            self.pieces.append(rows.framed())
            self.pending += len(self.pieces[-1])
            if self.pending > 4 * max(len(self.pieces[0]), 50_000) and len(self.pieces) > 1:
                self.pieces = [merge_rollups(pd.concat(self.pieces, ignore_index=True))]
                self.pending = len(self.pieces[0])
            return
        if self.flat is None:
            entries = sum(len(f[0]) for f in rows.lists.values())
            self.flat = entries < FLAT_ENTRIES_PER_ROW * len(rows) * len(rows.lists)
        self.pieces.append(rows if self.flat else rows.framed())
        self.currents.add(rows.frame, hashes)
        self.pending += len(rows)
        if self.pending - self.combined > FOLD_ROWS:
            self.fold_now()

    def fold_now(self) -> None:
        if self.currents is not None:
            self.folded, self.pieces = _fold_into(self.folded, self.pieces), []
            self.pending = self.combined = len(self.folded) if self.folded is not None else 0

    def result(self) -> pd.DataFrame:
        if self.currents is not None:
            self.fold_now()
            folded = self.folded
            return pd.DataFrame() if folded is None else \
                folded.framed() if isinstance(folded, FlatRows) else folded
        if not self.pieces:
            return pd.DataFrame()
        return merge_rollups(pd.concat(self.pieces, ignore_index=True))


def _by_pods(usage: pd.DataFrame, pod_runs: np.ndarray | None
             ) -> list[tuple[pd.DataFrame, np.ndarray | None]]:
    """``usage`` cut where a pod's rows start, into parts of at most :data:`FOLD_ROWS` pods
    (each with its part of ``pod_runs``): a chunk of a million rows of short-lived pods
    rolled up whole was 300,000 pod rows of histograms at once (the peak of ``--from`` on a
    month of CronJobs)."""
    if pod_runs is None:
        return [(usage, None)]
    starts = np.flatnonzero(pod_runs)
    if len(starts) <= FOLD_ROWS:
        return [(usage, pod_runs)]
    cuts = [*starts[FOLD_ROWS::FOLD_ROWS].tolist(), len(usage)]
    return [(usage.iloc[a:b], pod_runs[a:b]) for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]


def _fold_into(held: Any, pieces: list[Any]) -> Any:
    """``held`` (folded already, taken whole) with the pieces folded in, per container and
    day, :data:`FOLD_ROWS` new rows at a time: a chunk of a CronJob's pods is 300,000 rows,
    and folding them at once (sorted, their histograms gathered) took 1.7 GiB; folding each
    small piece on its own into what is held cost a fold of everything held per piece.
    Pieces are frames or :class:`FlatRows`, all of one kind, and fold to that kind."""
    batch: list[Any] = []
    size = 0
    for piece in pieces:
        for at in range(0, len(piece), FOLD_ROWS):
            part = piece if len(piece) <= FOLD_ROWS else _rows(piece, at, at + FOLD_ROWS)
            if batch and size + len(part) > FOLD_ROWS:
                held = _fold(held, batch)
                batch, size = [], 0
            batch.append(part)
            size += len(part)
    return _fold(held, batch) if batch else held


def _rows(piece: Any, start: int, stop: int) -> Any:
    if isinstance(piece, FlatRows):
        return piece.take(np.arange(start, min(stop, len(piece))))
    return piece.iloc[start:stop]


def _fold(held: Any, batch: list[Any]) -> Any:
    parts = batch if held is None else [held, *batch]
    if isinstance(parts[0], FlatRows):
        return fold_rows(FlatRows.joined(parts))
    return fold_pods(pd.concat(parts, ignore_index=True))


def _names(df: pd.DataFrame) -> set[str]:
    if df.empty:
        return set()
    keys = df[KEY_COLUMNS].drop_duplicates()
    return {f"{n}/{w}/{c}" for n, w, c in keys.itertuples(index=False)}


def _cat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    if b.empty:
        return a
    return b if a.empty else pd.concat([a, b], ignore_index=True)


def _as_text(usage: pd.DataFrame) -> pd.DataFrame:
    """Raw samples for the whole-frame analyses: names as plain text, as they expect."""
    out = usage.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(str)
    return out.sort_values([*POD_KEY, "timestamp"]).reset_index(drop=True) \
        if len(out) else out
