"""Collect workloads, requests/limits, statuses, events and usage from a Kubernetes cluster.

Pods (with their ReplicaSets and Jobs to find the owning workload), events and nodes are
listed page by page; usage comes from each node's kubelet ``/stats/summary`` through the API
server's ``nodes/{name}/proxy``, with ``metrics.k8s.io`` for the pods whose node could not be
read.  A part that fails (RBAC, timeouts, 5xx after the bounded retries) is reported in
``Collected.errors`` and everything else is still returned.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from quotatune import model
from quotatune.collect.base import Collected
from quotatune.collect.k8s_api import Access, K8sReader
from quotatune.collect.k8s_owners import OwnerIndex, pod_owners
from quotatune.collect.k8s_parse import parse_events, parse_pods
from quotatune.collect.k8s_usage import parse_pod_metrics, parse_stats_summary
from quotatune.errors import InputError, SourceError


def collect_kubernetes(
    api_client: Any,
    *,
    namespace: str | None = None,
    page_size: int = 500,
    retries: int = 3,
    timeout: float = 10,
    usage: bool = True,
    node_workers: int = 8,
    now: pd.Timestamp | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Collected:
    """One pass over the cluster (or one namespace) through ``api_client``.

    ``now`` stamps waiting reasons (they carry no time); it defaults to the current time.
    """
    from kubernetes import client as k8s

    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    reader = K8sReader(api_client, timeout=timeout, retries=retries, page_size=page_size)
    if sleep is not None:
        reader.sleep = sleep
    core, apps, batch = k8s.CoreV1Api(api_client), k8s.AppsV1Api(api_client), k8s.BatchV1Api(
        api_client)
    out = Collected()
    ns = namespace

    def listed(call_all: Any, call_ns: Any, resource: str) -> list[Any] | None:
        """All items, or the pages read before a failure (recorded) — None if nothing came."""
        items: list[Any] = []
        try:
            if ns:
                reader.list_all(call_ns, Access("list", resource, ns), keep=items, namespace=ns)
            else:
                reader.list_all(call_all, Access("list", resource), keep=items)
        except SourceError as exc:
            out.errors.append(f"kubernetes: {exc}" + (
                f" (kept {len(items)} {resource} read before the failure)" if items else ""))
            return items or None
        return items

    owners = OwnerIndex()
    rs = listed(apps.list_replica_set_for_all_namespaces, apps.list_namespaced_replica_set,
                "replicasets")
    owners.add(rs or [], "ReplicaSet")
    jobs = listed(batch.list_job_for_all_namespaces, batch.list_namespaced_job, "jobs")
    owners.add(jobs or [], "Job")
    if rs is None or jobs is None:
        out.notes.append("kubernetes: owners of some pods guessed from names")

    pods = listed(core.list_pod_for_all_namespaces, core.list_namespaced_pod, "pods") or []
    try:
        out.specs, out.events = parse_pods({"items": pods}, owners=owners, now=now)
    except InputError as exc:
        out.errors.append(f"kubernetes: pods: {exc}")
    by_pod = pod_owners(out.specs)
    events = listed(core.list_event_for_all_namespaces, core.list_namespaced_event, "events")
    if events:
        try:
            out.events = _concat(out.events, parse_events({"items": events}, owners=by_pod))
        except InputError as exc:
            out.errors.append(f"kubernetes: events: {exc}")
    if usage:
        out.usage = _usage(reader, core, pods, by_pod, ns, now, node_workers, out)
    out.notes.append(f"kubernetes: {len(pods)} pods, {len(out.specs)} containers, "
                     f"{len(out.usage)} usage rows, {reader.requests} API requests")
    return out


def _usage(
    reader: K8sReader, core: Any, pods: list[Any], by_pod: Any, ns: str | None,
    now: pd.Timestamp, workers: int, out: Collected,
) -> pd.DataFrame:
    """Usage from every node's stats summary; metrics.k8s.io for pods on nodes that failed."""
    nodes = sorted({str(p.get("spec", {}).get("nodeName") or "") for p in pods
                    if isinstance(p, dict)} - {""})
    if not ns:  # cluster-wide: nodes without any listed pod still have system pods worth reading
        try:
            listed = reader.list_all(core.list_node, Access("list", "nodes"))
            nodes = sorted(set(nodes) | {str(n.get("metadata", {}).get("name")) for n in listed
                                         if isinstance(n, dict)})
        except SourceError as exc:
            out.errors.append(f"kubernetes: {exc}")

    def summary(node: str) -> pd.DataFrame | str:
        try:
            payload = reader.fetch(core.connect_get_node_proxy_with_path,
                                   Access("get", "nodes/proxy"), name=node, path="stats/summary")
            return parse_stats_summary(payload, now, owners=by_pod, what=f"node {node} summary")
        except (SourceError, InputError) as exc:
            return f"kubernetes: node {node} stats summary: {exc}"

    frames: list[pd.DataFrame] = []
    failed: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(nodes) or 1))) as pool:
        for node, res in zip(nodes, pool.map(summary, nodes), strict=True):
            if isinstance(res, str):
                failed.append(node)
                out.errors.append(res)
            else:
                frames.append(res)
    if failed or not nodes:
        frames.append(_metrics_fallback(reader, ns, by_pod, failed, pods, out))
    frames = [f for f in frames if not f.empty]
    usage = pd.concat(frames, ignore_index=True) if frames else model.empty_usage()
    if ns and not usage.empty:
        usage = usage[usage["namespace"] == ns].reset_index(drop=True)
    return usage


def _metrics_fallback(
    reader: K8sReader, ns: str | None, by_pod: Any, failed: list[str], pods: list[Any],
    out: Collected,
) -> pd.DataFrame:
    from kubernetes import client as k8s

    custom = k8s.CustomObjectsApi(reader.api_client)
    access = Access("list", "pods.metrics.k8s.io", ns)
    try:
        if ns:
            items = reader.list_all(custom.list_namespaced_custom_object, access,
                                    group="metrics.k8s.io", version="v1beta1", plural="pods",
                                    namespace=ns)
        else:
            items = reader.list_all(custom.list_cluster_custom_object, access,
                                    group="metrics.k8s.io", version="v1beta1", plural="pods")
        df = parse_pod_metrics({"items": items}, owners=by_pod)
    except (SourceError, InputError) as exc:
        out.errors.append(f"kubernetes: metrics.k8s.io fallback: {exc}")
        return model.empty_usage()
    if failed and not df.empty:
        # Only the pods of the nodes whose summary failed: the others are already counted.
        on_failed = {(str(p.get("metadata", {}).get("namespace")), str(p["metadata"]["name"]))
                     for p in pods if isinstance(p, dict) and isinstance(p.get("metadata"), dict)
                     and p.get("spec", {}).get("nodeName") in failed}
        keys = list(zip(df["namespace"], df["pod"], strict=True))
        df = df[[k in on_failed for k in keys]].reset_index(drop=True)
    out.notes.append(f"kubernetes: {len(df)} usage rows from metrics.k8s.io")
    return df


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    if b.empty:
        return a
    if a.empty:
        return b
    return pd.concat([a, b], ignore_index=True)
