"""Where analysing flows get their frames: ``--from`` files, else the history store.

For files, :func:`rollups_from_files` is the bounded-memory way in (per-day rollups, specs,
events, and the raw samples of a filtered target only); :func:`load_inputs` still gives whole
frames for flows that need every sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quotatune.analysis.oom import LIMIT_AT_OOM, limits_at_ooms, oom_events
from quotatune.model import KEY_COLUMNS, ContainerKey, Target
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.model.times import drop_future, drop_future_events, future_limit, future_notes
from quotatune.pipelines.streaming import FileRollups, rollups_from_files
from quotatune.rollup import sketch
from quotatune.rollup.limits import LimitChanges
from quotatune.rollup.namehash import pod_hashes
from quotatune.store import Store, reads

__all__ = ["FileRollups", "existing_store", "load_inputs", "oom_limit_rows", "oom_limits_stored",
           "open_store", "pod_rows", "rollups_from_files"]



def load_inputs(
    from_files: list[Path] | None, fmt: str | None, store: Path | None, target: Target
) -> Collected:
    """Frames for ``target`` from ``--from`` files, else from the history store."""
    if from_files:
        from quotatune.sources.registry import import_files

        data = import_files(from_files, fmt)
        origin = "the given files"
        data.usage = _dedupe(data.usage, data.notes)
    else:
        if store is None:
            raise InputError("no input: give --from FILE… or a history store")
        st = existing_store(store)
        data = st.read()
        origin = f"store {st.root}"
    if data.usage.empty and data.specs.empty and data.events.empty:
        raise InputError(f"no data in {origin}")
    _drop_future(data)
    if not target.is_all:
        known = _names(data)
        # The target must match something: usage if there is any, else the specs.
        if not data.usage.empty:
            data.usage = target.select(data.usage, known)
            if not data.specs.empty:
                data.specs = data.specs[target.mask(data.specs)]
        elif not data.specs.empty:
            data.specs = target.select(data.specs, known)
        if not data.events.empty:
            data.events = data.events[target.mask(data.events)]
    return data


def open_store(root: Path) -> Store:
    """The history store at ``root``, writing per-day rollups so
    that ``recommend`` reads summaries instead of every sample."""
    from quotatune.rollup.sketch import ROLLUP_VERSION, daily_rollup
    from quotatune.rollup.table import rollup_table

    return Store(root, rollup=daily_rollup, rollup_table=rollup_table,
                 rollup_version=ROLLUP_VERSION)


def existing_store(root: Path) -> Store:
    """Like :func:`open_store`, for readers: a missing store is an input error."""
    st = open_store(root)
    if not (st.root / "usage").is_dir() and not (st.root / "specs.parquet").exists():
        raise InputError(
            f"no history store at {st.root}: run 'quotatune import FILE…' or "
            "'quotatune collect …' first, or pass --from FILE…"
        )
    return st


def _dedupe(usage: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Overlapping files (two exports of the same week) must not count a sample twice."""
    if usage.empty:
        return usage
    key = [c for c in ("namespace", "workload", "pod", "container", "timestamp")
           if c in usage.columns]
    dup = usage.duplicated(key)
    if dup.any():
        notes.append(f"ignored {int(dup.sum())} duplicated sample(s) across the input files")
        usage = usage[~dup].reset_index(drop=True)
    return usage


def _drop_future(data: Collected) -> None:
    """Samples and events stamped in the future come from a skewed clock: left out of
    ``data`` and counted in its notes, as every path does
    (:func:`quotatune.model.times.drop_future`)."""
    limit = future_limit()
    usage, late = drop_future(data.usage, limit)
    events, late_events = drop_future_events(data.events, limit)
    if late:
        data.usage = usage.reset_index(drop=True)
    if late_events:
        data.events = events.reset_index(drop=True)
    data.notes += future_notes(limit, late, late_events)


def _names(data: Collected) -> set[str]:
    names: set[str] = set()
    for df in (data.usage, data.specs):
        if not df.empty:
            for n, w, c in df[["namespace", "workload", "container"]].drop_duplicates().itertuples(
                index=False
            ):
                names.add(f"{n}/{w}/{c}")
    return names


def oom_limits_stored(store: Store, target: Target | None, events: pd.DataFrame
                      ) -> pd.DataFrame:
    """``events`` with the limit in force at each OOM kill (``limit_at_oom``) as the stored
    samples give it, by the rule ``--from`` and whole frames follow
    (:mod:`quotatune.rollup.limits`).  A day's rollup keeps only each pod's last limit: a
    limit changed in place after a kill (``docker update``, an in-place pod resize) read
    800 MiB on ``--store`` where the samples say 400.  Only the killed containers' rows
    are read, with the names, the time and the limit, and only on the days that decide a
    kill (:func:`_kill_limit_changes`): a year of history costs the kills' days, with the
    answers a read of every day gives."""
    oom = oom_events(events)
    if oom.empty or "timestamp" not in oom.columns:
        return events
    annotated = limits_at_ooms(_kill_limit_changes(store, target, oom), events)
    return events if annotated is None else annotated


def _kill_limit_changes(store: Store, target: Target | None, oom: pd.DataFrame
                        ) -> LimitChanges:
    """The limit changes of the killed containers on the days that decide their kills.

    A kill that names a pod takes that pod's last limit at or before the kill, so the days
    are read newest first from the kill's own: once one holds a row of the pod at or before
    the kill (usually the kill's day itself; the day before for a kill just after midnight),
    no older day can change the answer.  A kill that names no pod, or a pod with no such
    row on any day, takes its container's rule (each pod's first and last times, or the
    pod's first limit), which needs every day of that container: those are read whole.
    Each day is read once, for the containers that still need it."""
    when = pd.to_datetime(oom["timestamp"], utc=True, errors="coerce")
    kills = oom[when.notna().to_numpy()]  # a kill without a time gets no limit anyway
    when = when[when.notna()]
    at = when.to_numpy("datetime64[ns]").view("int64")
    on = when.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    keys = [ContainerKey(*k) for k in kills[KEY_COLUMNS].astype(str).itertuples(
        index=False, name=None)]
    named = np.zeros(len(kills), dtype=bool)
    if "pod" in kills.columns:
        named = (kills["pod"].notna() & (kills["pod"].astype(str) != "")).to_numpy()
    pods = np.zeros(len(kills), dtype="int64")
    if named.any():  # hashed as LimitChanges.at hashes the kills it looks up by pod
        pods[named] = pod_hashes(kills[named])
    columns = ["timestamp", *sketch.POD_KEY, "memory_limit_bytes"]
    parts: list[LimitChanges] = []
    done: dict[str, set[ContainerKey]] = {}

    def read(day: str, wanted: set[ContainerKey]) -> LimitChanges:
        todo = sorted(wanted - done.setdefault(day, set()))
        done[day].update(todo)
        got = LimitChanges.joined([LimitChanges.of(df) for _, df in store.scan_usage(
            columns, target=target, keys=todo, days=[day])]) if todo else LimitChanges()
        parts.append(got)
        return got

    open_ = np.ones(len(kills), dtype=bool)  # not yet settled by the days read
    days = store.days()
    for day in reversed(days):
        if not open_.any():
            break
        active = np.flatnonzero(open_ & (on >= day))  # open kills of this day or later
        if not len(active):
            continue
        got = read(day, {keys[i] for i in active})
        mine = active[named[active]]
        open_[mine[got.seen_by(pods[mine], at[mine])]] = False
    whole = {keys[i] for i in np.flatnonzero(open_)}
    for day in days if whole else []:
        read(day, whole)
    return LimitChanges.joined(parts)


def oom_limit_rows(store: Store, target: Target | None, events: pd.DataFrame
                   ) -> pd.DataFrame | None:
    """The limits of each pod on the days of the OOM kills whose limit the events do not
    give (and the day before each): rollups read folded per container keep only a day's
    newest limit, perhaps raised after the kill.  None when no kill needs one."""
    oom = oom_events(events)
    if oom.empty or "timestamp" not in oom.columns:
        return None
    if LIMIT_AT_OOM in oom.columns:
        oom = oom[pd.to_numeric(oom[LIMIT_AT_OOM], errors="coerce").isna()]
    times = pd.to_datetime(oom["timestamp"], utc=True, errors="coerce").dropna()
    if times.empty:
        return None
    return store.read_rollups(since=times.min().floor("D") - pd.Timedelta(days=1),
                              until=times.max(), target=target,
                              columns=[*KEY_COLUMNS, "pod", "day", "t_last",
                                       "memory_limit_bytes"])


def pod_rows(store: Store, target: Target | None, events: pd.DataFrame) -> pd.DataFrame | None:
    """Each pod's days as their scalars (:data:`quotatune.rollup.sketch.BASE_COLUMNS`, no
    histograms), with the hourly memory peaks of the pods of OOM-killed containers (the
    other rows share one row of NaN): what a strategy of per-pod scalars reads (VPA: a peak
    per pod and day; at a kill, the pod's peak so far).  None without rollups."""
    rows = store.read_rollups(columns=list(sketch.BASE_COLUMNS), target=target)
    if rows is None or rows.empty:
        return rows
    hours = pd.Series([sketch.NO_HOURS] * len(rows), index=rows.index, dtype=object)
    oom = oom_events(events)
    killed = sorted({ContainerKey(*k) for k in oom[KEY_COLUMNS].astype(str).itertuples(
        index=False, name=None)}) if not oom.empty else []
    got = store.read_rollups(columns=[*sketch.POD_KEY, "day", "mem_hour_max"], target=target,
                             keys=killed) if killed else None
    if got is not None and not got.empty:
        on = [*sketch.POD_KEY, "day"]
        mine = reads.keep_keys(rows, killed)[on].reset_index()
        found = mine.merge(got[[*on, "mem_hour_max"]], on=on, how="inner")
        hours.loc[found["index"].to_numpy()] = found["mem_hour_max"].to_numpy()
    return rows.assign(mem_hour_max=hours)
