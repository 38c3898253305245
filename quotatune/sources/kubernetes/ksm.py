"""kube-state-metrics text (``curl ksm:8080/metrics``) into specs, events and nodes.

For clusters where only a ksm scrape can be handed over: requests and limits per container,
the owning workload (``kube_pod_owner`` with ``kube_replicaset_owner``/``kube_job_owner`` for
the second hop, exactly like the Pod path), restarts, waiting reasons, the last termination
(reason, exit code, time) and node capacity/allocatable.  Usage is not in ksm.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from quotatune import model
from quotatune.model.frames import NODE_COLUMNS
from quotatune.sources.kubernetes.owners import Owner, OwnerIndex, resolve_owner
from quotatune.sources.kubernetes.parse import events_frame
from quotatune.sources.kubernetes.usage import iter_samples

SOURCE = "kube-state-metrics"
_NAMES = {
    "kube_pod_container_resource_requests", "kube_pod_container_resource_limits",
    "kube_pod_container_info", "kube_pod_container_status_restarts_total",
    "kube_pod_container_status_waiting_reason", "kube_pod_owner", "kube_replicaset_owner",
    "kube_job_owner", "kube_pod_info", "kube_pod_container_status_last_terminated_reason",
    "kube_pod_container_status_last_terminated_exitcode",
    "kube_pod_container_status_last_terminated_timestamp", "kube_pod_status_unschedulable",
    "kube_pod_status_unscheduled_time",
    "kube_node_status_capacity", "kube_node_status_allocatable",
}
_RESOURCE_COL = {("requests", "cpu"): "cpu_request_cores", ("limits", "cpu"): "cpu_limit_cores",
                 ("requests", "memory"): "memory_request_bytes",
                 ("limits", "memory"): "memory_limit_bytes"}
_NODE_COL = {("capacity", "cpu"): "cpu_capacity_cores",
             ("allocatable", "cpu"): "cpu_allocatable_cores",
             ("capacity", "memory"): "memory_capacity_bytes",
             ("allocatable", "memory"): "memory_allocatable_bytes",
             ("allocatable", "pods"): "pods_allocatable"}


def parse_ksm(
    text: str, what: str = "kube-state-metrics"
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """ksm exposition text -> (spec frame, event frame, nodes frame)."""
    containers: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(dict)
    pods: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    index = OwnerIndex()
    nodes: dict[str, dict[str, Any]] = defaultdict(dict)
    for s in iter_samples(text, what, _NAMES):
        lb, ns = s.labels, s.labels.get("namespace", "")
        key = (ns, lb.get("pod", ""), lb.get("container", ""))
        kind = s.name.removeprefix("kube_pod_container_").removeprefix("kube_")
        if s.name.startswith("kube_pod_container_resource_"):
            col = _RESOURCE_COL.get((kind.removeprefix("resource_"), lb.get("resource", "")))
            if col:
                containers[key][col] = s.value
        elif kind == "info":
            containers[key]["image"] = lb.get("image", "")
        elif kind == "status_restarts_total":
            containers[key]["restarts"] = s.value
        elif kind == "status_waiting_reason" and s.value == 1:
            containers[key]["waiting_reason"] = lb.get("reason", "")
        elif kind.startswith("status_last_terminated_"):
            field = kind.removeprefix("status_last_terminated_")
            if field != "reason" or s.value == 1:
                containers[key]["last_" + field] = lb.get("reason") if field == "reason" \
                    else s.value
        elif s.name == "kube_pod_owner" and lb.get("owner_kind"):
            pods[key[:2]]["owner"] = {"kind": lb["owner_kind"], "name": lb.get("owner_name"),
                                      "controller": lb.get("owner_is_controller") == "true"}
        elif s.name == "kube_pod_info":
            pods[key[:2]]["node"] = lb.get("node", "")
        elif s.name == "kube_pod_status_unschedulable" and s.value == 1:
            pods[key[:2]]["unschedulable"] = True
        elif s.name == "kube_pod_status_unscheduled_time":
            pods[key[:2]]["unscheduled_at"] = s.value
        elif s.name in ("kube_replicaset_owner", "kube_job_owner"):
            obj = lb.get("replicaset") or lb.get("job_name") or ""
            owner = Owner(lb["owner_kind"], lb.get("owner_name", "")) if lb.get(
                "owner_kind") else None
            target = index.replicasets if s.name == "kube_replicaset_owner" else index.jobs
            target[(ns, obj)] = owner
        elif s.name.startswith("kube_node_status_"):
            col = _NODE_COL.get((s.name.removeprefix("kube_node_status_"),
                                 lb.get("resource", "")))
            if col and lb.get("node"):
                nodes[lb["node"]][col] = s.value
    return _specs(containers, pods, index), _events(containers, pods, index), _nodes(nodes)


def _owner(ns: str, pod: str, pods: dict[tuple[str, str], dict[str, Any]],
           index: OwnerIndex) -> Owner:
    ref = pods.get((ns, pod), {}).get("owner")
    meta = {"namespace": ns, "name": pod, "ownerReferences": [ref] if ref else []}
    return resolve_owner(meta, index)


def _specs(containers: dict[tuple[str, str, str], dict[str, Any]],
           pods: dict[tuple[str, str], dict[str, Any]], index: OwnerIndex) -> pd.DataFrame:
    rows = []
    for (ns, pod, c), d in sorted(containers.items()):
        if not (ns and pod and c):
            continue
        owner = _owner(ns, pod, pods, index)
        rows.append({
            "namespace": ns, "workload": owner.name, "workload_kind": owner.kind, "pod": pod,
            "container": c, "node": pods.get((ns, pod), {}).get("node", ""),
            "image": d.get("image", ""), "command": (), "args": (), "env_names": (),
            "jvm_options": (), "non_ascii_env": (),
            **{col: d.get(col) for col in _RESOURCE_COL.values()},
            "replicas": None, "restarts": d.get("restarts"), "init_container": False,
            "phase": "", "waiting_reason": d.get("waiting_reason", ""), "source": SOURCE,
        })
    return pd.DataFrame(rows, columns=model.SPEC_COLUMNS) if rows else model.empty_specs()


def _events(containers: dict[tuple[str, str, str], dict[str, Any]],
            pods: dict[tuple[str, str], dict[str, Any]], index: OwnerIndex) -> pd.DataFrame:
    rows = []

    def when(seconds: Any) -> Any:
        ok = isinstance(seconds, float) and 0 < seconds < 4e9
        return pd.Timestamp(seconds, unit="s", tz="UTC") if ok else pd.NaT

    for (ns, pod, c), d in sorted(containers.items()):
        if "last_reason" not in d or not (ns and pod and c):
            continue
        code = d.get("last_exitcode")
        rows.append({
            "timestamp": when(d.get("last_timestamp")),
            "namespace": ns, "workload": _owner(ns, pod, pods, index).name, "pod": pod,
            "container": c, "kind": "termination", "reason": d["last_reason"],
            "exit_code": int(code) if code is not None and abs(code) < 2**31 else None,
            "oom_killed": d["last_reason"] == "OOMKilled", "message": "", "source": SOURCE,
        })
    for (ns, pod), p in sorted(pods.items()):
        if p.get("unschedulable"):
            rows.append({"timestamp": when(p.get("unscheduled_at")), "namespace": ns,
                         "workload": _owner(ns, pod, pods, index).name, "pod": pod,
                         "container": "", "kind": "scheduling", "reason": "Unschedulable",
                         "exit_code": None, "oom_killed": False, "message": "",
                         "source": SOURCE})
    return events_frame(rows)


def _nodes(nodes: dict[str, dict[str, Any]]) -> pd.DataFrame:
    rows = [{"node": n, **d, "instance_type": "", "zone": "", "arch": "",
             "unschedulable": False, "ready": True} for n, d in sorted(nodes.items())]
    return pd.DataFrame(rows, columns=NODE_COLUMNS)
