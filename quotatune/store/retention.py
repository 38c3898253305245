"""Retention: drop the days, events and specs older than ``keep_days``.

See docs/architecture.md, "The store".  One pass, under the store's lock, in an order that a
SIGKILL at any point leaves consistent and a re-run finishes:

1. specs of containers seen only in the pruned range are dropped (a container whose last
   sample and last event are both older than the cutoff); a spec that never had a sample or an
   event (a pod that never ran) is kept, since nothing says how old it is;
2. events older than the cutoff are dropped (events without a time are kept);
3. each old day loses its manifest first — the commit point, a day without one is absent to
   every reader — then its files and its directory.

Steps 1 and 2 rewrite one file each atomically; step 3 is per day, so after a kill every day
is either whole or gone, and directories left without a manifest are removed by the next run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from quotatune.model.errors import InputError, first_line
from quotatune.store import manifests
from quotatune.store.errors import StoreError

if TYPE_CHECKING:
    from quotatune.store.history import Store

KEY = ["namespace", "workload", "container"]


@dataclass(frozen=True)
class PruneReport:
    days: int
    events: int
    specs: int
    cutoff: str


def cutoff_day(keep_days: int, now: pd.Timestamp) -> str:
    if keep_days < 1:
        raise InputError(f"--keep-days must be at least 1, not {keep_days}")
    return (now.tz_convert("UTC") - pd.Timedelta(days=keep_days)).strftime("%Y-%m-%d")


def day_dirs(root: Path) -> list[tuple[str, Path]]:
    """Every ``day=`` directory, with or without a manifest (a killed prune leaves some)."""
    base = root / "usage"
    if not base.is_dir():
        return []
    # Only calendar days: a stray "day=1999-99-99" is not the store's to read or drop.
    return sorted((p.name.removeprefix("day="), p) for p in base.iterdir()
                  if p.name.startswith("day=") and manifests.is_day(p.name[4:])
                  and p.is_dir())


def day_keys(d: Path) -> pd.DataFrame:
    """The containers a day holds, read from its data file's key columns only (none for a
    directory without a manifest).  A damaged day is a :class:`StoreError`: read as empty,
    a prune would drop the specs of the containers only it holds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def read(path: Path) -> pd.DataFrame:
        try:
            return pq.read_table(path, columns=KEY).to_pandas().drop_duplicates()
        except FileNotFoundError:
            raise
        except (pa.ArrowException, OSError) as exc:
            raise StoreError(f"{path}: unreadable store file: {first_line(exc)}") from None

    keys = manifests.read_named(d, "data", read)
    return pd.DataFrame(columns=KEY) if keys is None else keys


def _keys(frames: list[pd.DataFrame]) -> set[tuple[str, str, str]]:
    out: set[tuple[str, str, str]] = set()
    for f in frames:
        if not f.empty and set(KEY) <= set(f.columns):
            out.update(f[KEY].astype(str).itertuples(index=False, name=None))
    return out


def prune(store: Store, keep_days: int, now: pd.Timestamp) -> PruneReport:
    cutoff = cutoff_day(keep_days, now)
    since = now.tz_convert("UTC") - pd.Timedelta(days=keep_days)
    with store.lock():
        old = [(day, d) for day, d in day_dirs(store.root) if day < cutoff]
        kept = [d for day, d in day_dirs(store.root) if day >= cutoff]
        events = store.read_events()
        ts = pd.to_datetime(events["timestamp"], utc=True) if not events.empty else None
        keep_ev = (ts.isna() | (ts >= since)) if ts is not None else None
        gone = _keys([day_keys(d) for _, d in old]
                     + ([events[~keep_ev]] if keep_ev is not None else []))
        alive = _keys([day_keys(d) for d in kept]
                      + ([events[keep_ev]] if keep_ev is not None else []))
        specs_dropped = 0
        specs = store.read_specs()
        doomed = gone - alive
        if doomed and not specs.empty:
            drop = pd.Series([k in doomed for k in
                              specs[KEY].astype(str).itertuples(index=False, name=None)],
                             index=specs.index)
            specs_dropped = int(drop.sum())
            if specs_dropped:
                store.write_table("specs.parquet", specs[~drop].reset_index(drop=True))
        events_dropped = 0 if keep_ev is None else int((~keep_ev).sum())
        if events_dropped:
            store.write_table("events.parquet",
                              pd.DataFrame(events[keep_ev]).reset_index(drop=True))
        days_dropped = 0
        for _, d in old:
            days_dropped += (d / manifests.MANIFEST).exists()
            drop_day(d)
    return PruneReport(days_dropped, events_dropped, specs_dropped, cutoff)


def drop_day(d: Path) -> None:
    """The manifest first (the commit point), then the files, then the directory."""
    (d / manifests.MANIFEST).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        for p in d.iterdir():
            p.unlink(missing_ok=True)
        d.rmdir()
