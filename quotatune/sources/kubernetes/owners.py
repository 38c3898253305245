"""Resolve a pod to the workload that owns it.

Pods point at their direct controller (``metadata.ownerReferences`` with ``controller: true``).
A Deployment's pods point at a ReplicaSet and a CronJob's at a Job, so one more hop is needed:
through the ReplicaSet/Job objects when they were listed, else by name (a Deployment's
ReplicaSet is ``<deployment>-<pod-template-hash>``; a CronJob's Job is ``<cronjob>-<minutes
since the epoch of the scheduled time>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd

from quotatune.model.names import cronjob_of_job, strip_replicaset_hash, workload_from_pod


class Owner(NamedTuple):
    kind: str  # Deployment | StatefulSet | DaemonSet | ReplicationController | Job | CronJob | ...
    name: str


@dataclass
class OwnerIndex:
    """Owners of ReplicaSets and Jobs, keyed by (namespace, name): the second hop."""

    replicasets: dict[tuple[str, str], Owner | None] = field(default_factory=dict)
    jobs: dict[tuple[str, str], Owner | None] = field(default_factory=dict)

    def add(self, objects: Iterable[Mapping[str, Any]], kind: str) -> None:
        target = self.replicasets if kind == "ReplicaSet" else self.jobs
        for obj in objects:
            meta = obj.get("metadata") if isinstance(obj, Mapping) else None
            if not isinstance(meta, Mapping):
                continue
            key = (str(meta.get("namespace") or "default"), str(meta.get("name") or ""))
            target[key] = _controller(meta)




def _controller(meta: Mapping[str, Any]) -> Owner | None:
    refs = meta.get("ownerReferences")
    if not isinstance(refs, list):
        return None
    refs = [r for r in refs if isinstance(r, Mapping) and r.get("kind") and r.get("name")]
    chosen = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    return Owner(str(chosen["kind"]), str(chosen["name"])) if chosen else None


def resolve_owner(meta: Mapping[str, Any], index: OwnerIndex | None = None) -> Owner:
    """The workload a pod belongs to; a bare pod is its own workload (kind "Pod")."""
    ns = str(meta.get("namespace") or "default")
    pod = str(meta.get("name") or "")
    ref = _controller(meta)
    if ref is None or ref.kind == "Node":  # bare pod, or a static pod mirrored by the kubelet
        return Owner("Pod", pod)
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    if ref.kind == "ReplicaSet":
        if index is not None and (ns, ref.name) in index.replicasets:
            up = index.replicasets[(ns, ref.name)]
            return up if up is not None else ref  # a ReplicaSet made by hand
        h = (labels or {}).get("pod-template-hash")
        base = strip_replicaset_hash(ref.name, h if isinstance(h, str) else None)
        return Owner("Deployment", base) if base != ref.name else ref
    if ref.kind == "Job":
        if index is not None and (ns, ref.name) in index.jobs:
            up = index.jobs[(ns, ref.name)]
            return up if up is not None else ref
        cronjob = cronjob_of_job(ref.name)
        return Owner("CronJob", cronjob) if cronjob else ref
    return ref


def pod_owners(specs: pd.DataFrame) -> dict[tuple[str, str], Owner]:
    """(namespace, pod) -> owner, from a spec frame made by ``parse_pods``."""
    if specs.empty:
        return {}
    cols = specs[["namespace", "pod", "workload_kind", "workload"]].drop_duplicates()
    return {(ns, pod): Owner(kind, wl) for ns, pod, kind, wl in cols.itertuples(index=False)}


def workload_of(pod: str, owners: Mapping[tuple[str, str], Owner], ns: str) -> Owner:
    """The owner recorded for a pod, else one guessed from its name (for usage rows)."""
    hit = owners.get((ns, pod))
    return hit if hit is not None else Owner("", workload_from_pod(pod))
