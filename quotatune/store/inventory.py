"""What a store holds (``quotatune status``) and when each source last wrote to it.

See docs/architecture.md, "The store".  ``ROOT/collections.json`` maps a source (``docker``,
``kubernetes``, ``prometheus``, ``import``) to its last write: the time and what it added.  It
is rewritten atomically under the store's lock after each write, so two overlapping runs never
lose each other's line.  Everything else is read from the manifests and the key columns of the
day files, never from all the samples.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from quotatune.model.errors import first_line
from quotatune.store import manifests, retention
from quotatune.store.errors import StoreError

if TYPE_CHECKING:
    from quotatune.store.history import Store

COLLECTIONS = "collections.json"


def record_collection(store: Store, source: str, at: pd.Timestamp, *, samples: int,
                      events: int) -> None:
    with store.lock():
        seen = last_collections(store)
        seen[source] = {"at": at.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "samples_added": int(samples), "events_added": int(events)}
        store.write_text(COLLECTIONS, json.dumps(seen, indent=1, sort_keys=True) + "\n")


def last_collections(store: Store, *, strict: bool = False) -> dict[str, dict[str, Any]]:
    """Each source's last write.  ``strict`` (status): a damaged file is a
    :class:`StoreError` naming it; else (a writer, which rewrites the file whole) what
    cannot be read is left out, so one bad line never stops a collection."""
    path = store.root / COLLECTIONS
    try:
        seen = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        if strict:
            raise StoreError(f"{path}: unreadable: {first_line(exc)}") from None
        return {}
    if not isinstance(seen, dict):
        if strict:
            raise StoreError(f"{path}: damaged: a JSON object expected, "
                             f"not {type(seen).__name__}")
        return {}
    bad = [k for k, v in seen.items() if not isinstance(v, dict)]
    if bad and strict:
        raise StoreError(f"{path}: damaged: the entry of {bad[0]!r} is not a JSON object")
    return {k: v for k, v in seen.items() if k not in bad}


@dataclass
class Status:
    root: str
    containers: int = 0
    days: int = 0
    first_day: str | None = None
    last_day: str | None = None
    samples: int = 0
    bytes_on_disk: int = 0
    specs: int = 0
    events: int = 0
    last_collection: dict[str, dict[str, Any]] = field(default_factory=dict)


def status(store: Store) -> Status:
    st = Status(root=str(store.root))
    days = store.days()
    st.days = len(days)
    st.first_day, st.last_day = (days[0], days[-1]) if days else (None, None)
    keys = []
    for day in days:
        # A damaged day is named (a StoreError), not counted as empty: status is where a
        # user looks to see whether the store is sound.
        m = store.manifest(day)
        if m is None:
            continue  # dropped under us by a prune
        st.samples += int(m.get("rows") or 0)
        keys.append(retention.day_keys(store.day_dir(day)))
        # Only stat the rollup, never read it: a missing one is named here too.
        manifests.read_named(store.day_dir(day), "rollup", lambda p: p.stat())
    if keys:
        st.containers = len(pd.concat(keys).drop_duplicates())
    st.specs, st.events = len(store.read_specs()), len(store.read_events())
    for dirpath, _, files in os.walk(store.root):
        for f in files:
            try:
                st.bytes_on_disk += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                continue
    st.last_collection = last_collections(store, strict=True)
    return st
