"""Reading a history store for diagnose, report and plan without loading every sample
(docs/architecture.md, "The store").

Recommendations come from the per-day rollups; the findings and the report's figures from one
read of each day's few columns (:mod:`quotatune.analysis.findings.digest`,
``render/html/stats.py``); raw samples only for the containers
that need them (a throttled or crash-looping container, the charted ones of a report).  Every
read is filtered by the target inside Parquet, so ``diagnose ns/app/c`` reads that container.
``report --from`` and ``diagnose --from`` stream their files into a temporary store and read
it the same way (:func:`stored_from_files`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from quotatune.analysis.findings.common import DiagnosePolicy
from quotatune.analysis.findings.diagnose import diagnose as find
from quotatune.analysis.findings.digest import SPAN_COLUMNS, DigestBuilder, PeakRows
from quotatune.analysis.oom import limits_at_ooms, oom_events
from quotatune.analysis.recommend import folds_pods, recommend_from_rollups, rollup_columns
from quotatune.model import KEY_COLUMNS, ContainerKey, Finding, Recommendation, Target
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.model.times import drop_future, drop_future_events, future_limit, future_notes
from quotatune.pipelines.inputs import (
    existing_store,
    oom_limit_rows,
    oom_limits_stored,
    open_store,
)
from quotatune.pipelines.prefetch import prefetched
from quotatune.pipelines.progress import NO_PROGRESS, Progress, day_steps, files_read
from quotatune.rollup.limits import LimitChanges
from quotatune.sources.registry import iter_files
from quotatune.store import Store
from quotatune.store.reads import keep_keys

DayHook = Callable[[pd.DataFrame], None]
OnDay = Callable[[int, int], None]  # (days read, days to read): progress, for the CLI


@dataclass
class Stored:
    """A store opened for one target: its specs and events (small, read whole, filtered),
    and the names of the containers it holds samples of."""

    store: Store
    target: Target
    specs: pd.DataFrame
    events: pd.DataFrame
    keys: pd.DataFrame  # namespace, workload, container of every container with samples
    last: pd.Timestamp | None = None  # the target's newest sample
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that could not be read (--from)

    @property
    def has_usage(self) -> bool:
        return not self.keys.empty


def open_stored(root: Path, target: Target) -> Stored:
    """The store at ``root`` for ``target``; an unknown target names the nearest ones."""
    st = existing_store(root)
    known_keys = st.read_rollups(columns=[*KEY_COLUMNS, "t_last"])
    keys = pd.DataFrame(columns=[*KEY_COLUMNS, "t_last"]) if known_keys is None else \
        known_keys
    specs, events = st.read_specs(), st.read_events()
    if keys.empty and specs.empty and events.empty:
        raise InputError(f"no data in store {st.root}")
    if not target.is_all:
        # Usage or specs must hold the target; a target in neither names the nearest ones.
        k = keys[target.mask(keys)] if not keys.empty else keys
        sp = specs[target.mask(specs)] if not specs.empty else specs
        if k.empty and sp.empty:
            target.select(pd.concat([f[KEY_COLUMNS].astype(str) for f in (keys, specs)
                                     if not f.empty], ignore_index=True))
        keys, specs = k, sp
        if not events.empty:
            events = events[target.mask(events)]
    last = pd.Timestamp(keys["t_last"].max()) if not keys.empty else None
    keys = keys[KEY_COLUMNS].drop_duplicates().reset_index(drop=True)
    return Stored(st, target, specs, events, keys, last)


def read_rollups(s: Stored, strategy: str | None = None, extra: Iterable[str] = ()
                 ) -> pd.DataFrame | None:
    """The rollups of the target's containers: the columns ``strategy`` reads and ``extra``,
    folded per container and day as they are read when the strategy reads them so."""
    if not s.has_usage:
        return None
    cols = list(dict.fromkeys([*rollup_columns(strategy), *extra]))
    rollups = s.store.read_rollups(columns=cols, target=s.target,
                                   fold_pods=folds_pods(strategy))
    return None if rollups is None or rollups.empty else rollups


def recommendations(s: Stored, strategy: str | None = None,
                    rollups: pd.DataFrame | None = None) -> list[Recommendation]:
    """From the rollups of the target's containers only."""
    rollups = read_rollups(s, strategy) if rollups is None else rollups
    if rollups is None:
        return []
    events = oom_limits_stored(s.store, s.target, s.events)
    limits = oom_limit_rows(s.store, s.target, events) if folds_pods(strategy) else None
    return recommend_from_rollups(rollups, s.specs, events, strategy=strategy,
                                  limit_rows=limits)



def p95_buckets(rollups: pd.DataFrame | None, q: float = 0.95) -> dict[ContainerKey, int]:
    """Per container, the highest fine CPU bucket that still holds the samples at and above
    rank ``floor(q (n - 1))`` (and one below, for numpy's own rounding): only those samples
    decide an interpolated quantile.  From the rollups' exact counts."""
    from quotatune.analysis.summary import History

    if rollups is None:
        return {}
    h = History(rollups)
    n = h.samples
    need = np.minimum(n - np.floor(q * (n - 1)).astype(np.int64) + 1, n)
    out = np.zeros(h.size, dtype=np.int64)
    for lo, part in h.histogram_blocks("cpu", decayed=False):
        hi = lo + len(part)
        above = np.cumsum(part[:, ::-1], axis=1)[:, ::-1]  # samples in this bucket or higher
        out[lo:hi] = np.maximum((above >= need[lo:hi, None]).sum(axis=1) - 1, 0)
    return {ContainerKey(*k): int(b) for k, b in zip(h.keys.itertuples(index=False),
                                                       out.tolist(), strict=True)}


def one_pass(s: Stored, columns: Iterable[str], every_day: list[DayHook],
             recent: list[DayHook], since: pd.Timestamp | None = None,
             on_day: OnDay | None = None) -> None:
    """Read every day of the target once (``columns``) and feed it to each of ``every_day``,
    and its samples from ``since`` on to each of ``recent``; one day is in memory at a time.
    Without ``every_day`` hooks, days before ``since`` are not read at all."""
    lo = None if since is None else since.tz_convert("UTC").strftime("%Y-%m-%d")
    days = [d for d in s.store.days() if lo is None or every_day or d >= lo]
    pushed = None if every_day else since  # filtered inside Parquet when nothing needs more
    # The next day is decoded on a reader thread while the hooks work on this one (one more
    # day in memory).
    read = prefetched(s.store.scan_usage(list(dict.fromkeys(columns)), target=s.target,
                                         since=pushed, days=days))
    for done, (_, day) in enumerate(read, start=1):
        for hook in every_day:
            hook(day)
        part = day if since is None or pushed is not None else _from(day, since)
        if not part.empty:
            for hook in recent:
                hook(part)
        if on_day is not None:
            on_day(done, len(days))


def _from(day: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
    keep = (day["timestamp"] >= since).to_numpy()
    return day if keep.all() else day[keep].reset_index(drop=True)


class _Spill:
    """The compact rows of each day that the digest's second step needs, spilled to
    owner-only files in a private temporary directory: read back instead of decoding the
    day's Parquet again, while memory stays at one day."""

    FIELDS = ("code", "ns", "r", "mem")

    def __init__(self, where: Path) -> None:
        self.where = where
        self.names: list[pd.DataFrame] = []

    def put(self, rows: PeakRows | None) -> None:
        if rows is None:
            return
        path = self.where / f"day-{len(self.names)}.npy"
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
            for name in self.FIELDS:
                np.save(fh, getattr(rows, name), allow_pickle=False)
        self.names.append(rows.names)

    def __iter__(self) -> Iterator[PeakRows]:
        for i, names in enumerate(self.names):
            with open(self.where / f"day-{i}.npy", "rb") as fh:
                arrays = [np.load(fh, allow_pickle=False) for _ in self.FIELDS]
            yield PeakRows(names, *arrays)


def raw_usage(s: Stored, keys: Iterable[ContainerKey],
              since: pd.Timestamp | None = None) -> pd.DataFrame:
    """Every stored sample of ``keys`` (names as text), in store order."""
    from quotatune.model import empty_usage

    wanted = sorted(set(keys))
    parts = [day for _, day in s.store.scan_usage(None, target=s.target, keys=wanted,
                                                  since=since)]
    if not parts:
        return empty_usage()
    out = pd.concat(parts, ignore_index=True)
    for col in ("namespace", "workload", "pod", "container"):
        if col in out.columns:
            out[col] = out[col].astype(str)
    return out


def diagnose_stored(s: Stored, *, now: pd.Timestamp, policy: DiagnosePolicy | None = None,
                    hooks: tuple[list[DayHook], list[str]] | None = None,
                    on_day: OnDay | None = None) -> list[Finding]:
    """The findings of the target, as :func:`find` gives them on the whole frame.  ``hooks``
    (hooks that see every day, whatever ``policy.since``, and the columns they read) ride
    along the same single read of each day."""
    policy = policy or DiagnosePolicy()
    builder = DigestBuilder(policy)
    every_day, cols = hooks or ([], [])
    since = None if policy.since is None else pd.Timestamp(policy.since)
    if since is not None and since.tzinfo is None:
        since = since.tz_localize("UTC")
    killed = _KillLimits(s.events)
    # The killed containers' limits ride along the read of each day when every day is read
    # anyway; otherwise only the kills' days are read for them, as recommend does.
    lo = None if since is None else since.tz_convert("UTC").strftime("%Y-%m-%d")
    along = bool(killed.keys) and (lo is None or bool(every_day) or all(
        d >= lo for d in s.store.days()))
    if along:
        every_day = [*every_day, killed.add]
    if s.has_usage:
        with tempfile.TemporaryDirectory(prefix="quotatune-digest-") as tmp:
            spill = _Spill(Path(tmp))
            one_pass(s, [*SPAN_COLUMNS, *cols], every_day,
                     [lambda day: spill.put(builder.add_spans_rows(day))], since, on_day)
            for rows in spill:
                builder.add_peak_rows(rows)
    digest = builder.digest()
    usage = raw_usage(s, digest.raw_keys, since) if digest.raw_keys else None
    events = killed.annotated() if along or not killed.keys else \
        oom_limits_stored(s.store, s.target, s.events)
    return find(usage, s.specs, events, now=now, policy=policy, digest=digest)


class _KillLimits:
    """The limit at each OOM kill of ``events``, from the killed containers' samples of
    every day (:mod:`quotatune.analysis.oom`), as recommend reads it from the store."""

    def __init__(self, events: pd.DataFrame) -> None:
        self.events = events
        oom = oom_events(events)
        self.keys = sorted({ContainerKey(*k) for k in oom[KEY_COLUMNS].astype(str).itertuples(
            index=False, name=None)}) if "timestamp" in oom.columns else []
        self.parts: list[LimitChanges] = []

    def add(self, day: pd.DataFrame) -> None:
        rows = keep_keys(day, self.keys)
        if len(rows):
            self.parts.append(LimitChanges.of(rows))

    def annotated(self) -> pd.DataFrame:
        if not self.keys:
            return self.events
        found = limits_at_ooms(LimitChanges.joined(self.parts), self.events)
        return self.events if found is None else found


def latest_usage(s: Stored, columns: list[str]) -> pd.DataFrame:
    """The target's samples of the day before its newest one (what ``running_pods`` looks
    at), read from the last two day partitions it has."""
    if s.last is None:
        return pd.DataFrame(columns=columns)
    lo = (s.last - pd.Timedelta("1D")).strftime("%Y-%m-%d")
    hi = s.last.strftime("%Y-%m-%d")
    days = [d for d in s.store.days() if lo <= d <= hi]
    parts = [d for _, d in s.store.scan_usage(columns, target=s.target, days=days)]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    for col in ("namespace", "workload", "pod"):
        if col in out.columns:
            out[col] = out[col].astype(str)
    return out


Reader = Callable[[list[Path], str | None], Iterable[tuple[int, Path, Collected]]]


@contextmanager
def stored_from_files(files: list[Path], fmt: str | None, target: Target,
                      read: Reader = iter_files, progress: Progress = NO_PROGRESS, *,
                      now: pd.Timestamp | None = None) -> Iterator[Stored]:
    """``files`` as a :class:`Stored` for ``target``, with the notes and errors of reading
    them; the store behind it lives until the context exits.  For ``report --from`` and
    ``diagnose --from`` in bounded memory: the chunks of the readers ``import`` uses go
    through the store's own streaming append (per-day staging, deduplication on the sample
    key) into a private temporary directory, and are read back day by day as ``--store``
    reads a store.  As the whole-frame path did, samples repeated across the files count
    once and samples and events stamped in the future (after ``now``, default the clock, +
    10 minutes) are left out, each with a note; a file that cannot be read is an error line,
    the others are still read.  ``read``: the chunked readers of ``import`` (a test passes
    them a smaller chunk size); ``progress`` shows the files read and the days written, as
    ``import`` does."""
    with tempfile.TemporaryDirectory(prefix="quotatune-from-") as tmp:  # mode 0700
        st = open_store(Path(tmp) / "store")
        limit = future_limit(now)
        seen = Collected()  # notes and errors only
        counts = {"kept": 0, "future": 0, "future_events": 0}

        def chunks() -> Iterator[Collected]:
            for _, _, chunk in files_read(progress, read(files, fmt), len(files)):
                usage, late = drop_future(chunk.usage, limit)
                events, late_events = drop_future_events(chunk.events, limit)
                if late:
                    counts["future"] += late
                    chunk.usage = usage.reset_index(drop=True)
                if late_events:
                    counts["future_events"] += late_events
                    chunk.events = events.reset_index(drop=True)
                counts["kept"] += len(chunk.usage)
                seen.notes += chunk.notes
                seen.errors += chunk.errors
                yield chunk

        added = st.append_stream(chunks(), on_day=day_steps(progress, "writing days"))
        notes = list(seen.notes)
        if counts["kept"] > added.samples_added:
            notes.append(f"ignored {counts['kept'] - added.samples_added} duplicated "
                         "sample(s) across the input files")
        late = future_notes(limit, counts["future"], counts["future_events"])
        notes += late
        if not added.samples_added and not added.specs_rows and not added.events_added:
            raise InputError("no data in the given files" + "".join(f"; {n}" for n in late))
        stored = open_stored(st.root, target)
        stored.notes += notes
        stored.errors += seen.errors
        yield stored
