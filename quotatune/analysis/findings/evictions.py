"""The ``evicted`` finding: the kubelet evicted a pod under node pressure.

Read from the pod's status (phase Failed, reason Evicted) and from ``Evicted`` events. The
kubelet's message names the resource and, for memory and disk, each container over its
request: "The node was low on resource: memory. Container app was using 1843Mi, which exceeds
its request of 512Mi." (older kubelets) or "… Container app was using 48458972Ki, request is
15Gi, has larger consumption of memory." (newer ones). Under memory pressure the kubelet evicts
first the pods whose use exceeds their request, so an eviction is a request set too low: the
advice is the request to set. For ephemeral storage it is the limit to use; for PIDs, a cap.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from quotatune.analysis.findings.common import Context, finding, latest, num
from quotatune.model import ContainerKey, Finding, units
from quotatune.model.errors import InputError
from quotatune.model.units import mib_text as mi

_RESOURCE = re.compile(r"low on resource: \[?(?P<res>[A-Za-z-]+)")
_CONDITION = {"MemoryPressure": "memory", "DiskPressure": "ephemeral-storage",
              "PIDPressure": "pids"}
_USING = re.compile(r"Container (?P<c>[\w.-]+) was using (?P<used>[\d.]+[A-Za-z]*), "
                    r"(?:which exceeds its request of|request is) (?P<req>[\d.]+[A-Za-z]*)")
_OWN_LIMIT = re.compile(r"ephemeral local storage usage exceeds the total limit of containers "
                        r"(?P<a>[\d.]+[A-Za-z]*)|exceeds the limit \"?(?P<b>[\d.]+[A-Za-z]*)")
STORAGE_HEADROOM = 1.25  # the limit to use: what it wrote at eviction, and a quarter more


def evicted(ctx: Context) -> list[Finding]:
    ev = ctx.events
    rows = ev[(ev["reason"] == "Evicted") | (ev["kind"] == "eviction")]
    seen: dict[ContainerKey, list[tuple[pd.Series, re.Match[str] | None]]] = {}
    for _, row in rows.iterrows():
        named = {m.group("c"): m for m in _USING.finditer(row["message"])}
        for container in _containers(ctx, row, named):
            key = ContainerKey(row["namespace"], row["workload"], container)
            seen.setdefault(key, []).append((row, named.get(container)))
    return [_finding(ctx, key, hits) for key, hits in sorted(seen.items())]


def _containers(ctx: Context, row: pd.Series, named: dict[str, Any]) -> list[str]:
    """The containers an eviction row is about: the one it names; else those the kubelet's
    message says were over their request; else every container of the workload."""
    if row["container"]:
        return [row["container"]] if not named or row["container"] in named else []
    if named:
        return list(named)
    own = sorted({k.container for k in ctx.spec_keys()
                  if (k.namespace, k.workload) == (row["namespace"], row["workload"])})
    return own or [""]


def _finding(ctx: Context, key: ContainerKey,
             hits: list[tuple[pd.Series, re.Match[str] | None]]) -> Finding:
    hits = sorted(hits, key=lambda h: (pd.isna(h[0]["timestamp"]), h[0]["timestamp"]))
    row, using = hits[-1] if not pd.isna(hits[-1][0]["timestamp"]) else hits[0]
    pods = {str(h[0]["pod"]) for h in hits if h[0]["pod"]}
    at = latest(h[0]["timestamp"] for h in hits)
    resource = _resource(row["message"])
    evidence = [f"pod {row['pod'] or '?'} evicted (phase Failed, reason Evicted): "
                f"{row['message']}".rstrip(": ")]
    if len(pods) > 1:
        evidence.append(f"{len(pods)} pods evicted, last at {at}")
    used = _bytes(using.group("used")) if using else None
    request = _bytes(using.group("req")) if using else None
    spec = ctx.spec(key) or {}
    if resource == "memory":
        request = num(spec.get("memory_request_bytes")) or request
        peak = ctx.peak_bytes(key)
        if used is not None:
            evidence.append(f"memory use {mi(used)} at eviction against its request "
                            f"{mi(request) if request else 'of none'}")
        if peak:
            evidence.append(f"peak working set {mi(peak)}")
        advice = _memory_advice(key, used, peak, request)
    elif resource == "ephemeral-storage":
        if used is not None:
            evidence.append(f"disk use {mi(used)} at eviction against its ephemeral-storage "
                            f"request {mi(request) if request else 'of none'}")
        advice = _storage_advice(row["message"], used)
    elif resource == "pids":
        advice = ("The node ran out of process IDs (threads count too). Find the container "
                  "that forks or spawns threads without bound, and cap PIDs per pod (kubelet "
                  "podPidsLimit) so that one workload cannot exhaust the node.")
    else:
        advice = ("The kubelet evicted it to relieve the node. Set requests that cover what "
                  "the pod really uses (quotatune recommend) so the scheduler reserves it.")
    return finding(key, "evicted", "warning", at, evidence, advice)


def _memory_advice(key: ContainerKey, used: float | None, peak: float | None,
                   request: float | None) -> str:
    text = ("The kubelet evicts first the pods whose memory use exceeds their request, so "
            "this request is too low for what the container uses. ")
    need = max([v for v in (used, peak) if v] or [0.0])
    if need and (not request or need > request):
        why = " and ".join(w for w, v in (("its use at eviction", used), ("its peak working "
                                           "set", peak)) if v)
        text += f"Set its memory request to at least {mi(need)} ({why}), "
    else:
        text += "Set its memory request to what it uses, "
    return text + (f"or to what `quotatune recommend {key.namespace}/{key.workload}` gives, so "
                   "the scheduler reserves that memory on the node.")


def _storage_advice(message: str, used: float | None) -> str:
    own = _OWN_LIMIT.search(message)
    if own:
        limit = _bytes(own.group("a") or own.group("b"))
        text = (f"The pod wrote more than its own ephemeral-storage limit "
                f"({mi(limit)}) to its writable layer, logs and emptyDir volumes. ")
        if used:
            return text + (f"Raise resources.limits.ephemeral-storage to at least "
                           f"{mi(used * STORAGE_HEADROOM)}, or move the data to a volume.")
        return text + "Raise that limit above what it writes, or move the data to a volume."
    text = ("The node ran low on disk and evicted the pods writing most beyond their "
            "ephemeral-storage request. ")
    if used:
        return text + (f"Set resources.requests.ephemeral-storage to at least {mi(used)} and "
                       f"resources.limits.ephemeral-storage to "
                       f"{mi(used * STORAGE_HEADROOM)}, so the pod is placed where that disk "
                       "is free and stopped alone if it writes more; or move the data to a "
                       "volume.")
    return text + ("Give it an ephemeral-storage request and limit that cover what it writes "
                   "(logs, emptyDir, writable layer), or move the data to a volume.")


def _resource(message: str) -> str:
    m = _RESOURCE.search(message)
    if m:
        res = m.group("res")
        return _CONDITION.get(res, res)
    if "ephemeral local storage" in message or "EmptyDir volume" in message:
        return "ephemeral-storage"
    for cond, res in _CONDITION.items():
        if cond in message:
            return res
    return ""


def _bytes(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(units.memory_quantity_to_bytes(text))
    except InputError:
        return None
