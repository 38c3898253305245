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

from quotatune.store import retention

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


def last_collections(store: Store) -> dict[str, dict[str, Any]]:
    try:
        seen = json.loads((store.root / COLLECTIONS).read_text())
    except (OSError, ValueError):
        return {}
    return seen if isinstance(seen, dict) else {}


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
        d = store.root / "usage" / f"day={day}"
        try:
            st.samples += int(json.loads((d / "manifest.json").read_text()).get("rows", 0))
        except (OSError, ValueError):
            continue  # dropped under us by a prune
        keys.append(retention.day_keys(d))
    if keys:
        st.containers = len(pd.concat(keys).drop_duplicates())
    st.specs, st.events = len(store.read_specs()), len(store.read_events())
    for dirpath, _, files in os.walk(store.root):
        for f in files:
            try:
                st.bytes_on_disk += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                continue
    st.last_collection = last_collections(store)
    return st
