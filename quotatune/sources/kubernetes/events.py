"""Kubernetes Event objects (core/v1 and events.k8s.io/v1) into the event frame."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from quotatune.model.names import workload_from_pod
from quotatune.model.redact import redact
from quotatune.sources.kubernetes.fields import as_dict, as_str, as_time
from quotatune.sources.kubernetes.owners import Owner
from quotatune.sources.kubernetes.parse import MAX_MESSAGE, SOURCE, events_frame, items_of

# Event reasons worth keeping: the rest (Pulled, Scheduled, Created…) say nothing about sizing.
EVENT_REASONS = {
    "FailedScheduling": "scheduling",
    "OOMKilling": "oom-event",
    "SystemOOM": "oom-event",
    "BackOff": "event",
    "Evicted": "event",
    "Preempted": "event",
}

_CONTAINER_PATH = re.compile(r"spec\.(?:initContainers|containers)\{(?P<name>[^}]*)\}")


def parse_events(
    event_list: Any, *, owners: Mapping[tuple[str, str], Owner] | None = None,
    source: str = SOURCE,
) -> pd.DataFrame:
    """A core/v1 EventList or events.k8s.io/v1 list -> event frame (reasons of interest only).

    ``owners`` maps (namespace, pod) to the pod's resolved owner so that an event lands on the
    same workload as the pod's spec rows; otherwise the workload comes from the pod name.
    """
    rows: list[dict[str, Any]] = []
    for ev in items_of(event_list, "events", ("Event",)):
        reason = as_str(ev.get("reason"))
        if reason not in EVENT_REASONS:
            continue
        obj = as_dict(ev.get("involvedObject") or ev.get("regarding"))
        ns = as_str(obj.get("namespace")) or as_str(as_dict(ev.get("metadata")).get("namespace"))
        name = as_str(obj.get("name"))
        pod = name if obj.get("kind") == "Pod" else ""
        m = _CONTAINER_PATH.search(as_str(obj.get("fieldPath")))
        owner = (owners or {}).get((ns, pod)) if pod else None
        workload = owner.name if owner else (workload_from_pod(name) if pod else name)
        ts = next((t for t in (as_time(ev.get(k)) for k in (
            "lastTimestamp", "eventTime", "deprecatedLastTimestamp", "firstTimestamp")
        ) if not pd.isna(t)), as_time(as_dict(ev.get("metadata")).get("creationTimestamp")))
        rows.append({
            "timestamp": ts, "namespace": ns or "default", "workload": workload, "pod": pod,
            "container": m.group("name") if m else "", "kind": EVENT_REASONS[reason],
            "reason": reason, "exit_code": None, "oom_killed": reason in ("OOMKilling",
                                                                         "SystemOOM"),
            "message": redact(as_str(ev.get("message") or ev.get("note")))[:MAX_MESSAGE],
            "source": source,
        })
    return events_frame(rows)
