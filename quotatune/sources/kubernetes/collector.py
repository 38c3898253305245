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
from urllib.parse import quote

import pandas as pd

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError, SourceError
from quotatune.model.redact import redact
from quotatune.sources.kubernetes.api import Access, Forbidden, K8sReader
from quotatune.sources.kubernetes.events import parse_events
from quotatune.sources.kubernetes.fields import as_dict, as_str
from quotatune.sources.kubernetes.owners import OwnerIndex, pod_owners
from quotatune.sources.kubernetes.parse import parse_pods
from quotatune.sources.kubernetes.usage import parse_pod_metrics, parse_stats_summary


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
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    reader = K8sReader(api_client, timeout=timeout, retries=retries, page_size=page_size)
    if sleep is not None:
        reader.sleep = sleep
    out = Collected()
    ns = namespace

    def listed(prefix: str, resource: str) -> list[Any] | None:
        """All items, or the pages read before a failure (recorded) — None if nothing came."""
        items: list[Any] = []
        try:
            reader.list_all(_path(prefix, resource, ns), Access("list", resource, ns), keep=items)
        except SourceError as exc:
            out.errors.append(f"kubernetes: {exc}" + (
                f" (kept {len(items)} {resource} read before the failure)" if items else ""))
            return items or None
        return items

    owners = OwnerIndex()
    rs = listed("/apis/apps/v1", "replicasets")
    owners.add(rs or [], "ReplicaSet")
    jobs = listed("/apis/batch/v1", "jobs")
    owners.add(jobs or [], "Job")
    if rs is None or jobs is None:
        out.notes.append("kubernetes: owners of some pods guessed from names")

    pods = listed("/api/v1", "pods") or []
    out.specs, out.events = _parse_pods_keeping_good_ones(pods, owners, now, out.errors)
    by_pod = pod_owners(out.specs)
    events = listed("/api/v1", "events")
    if events:
        try:
            out.events = _concat(out.events, parse_events({"items": events}, owners=by_pod))
        except InputError as exc:
            out.errors.append(f"kubernetes: events: {exc}")
    if usage:
        out.usage = _usage(reader, pods, by_pod, ns, now, node_workers, out)
    out.notes.append(f"kubernetes: {len(pods)} pods, {len(out.specs)} containers, "
                     f"{len(out.usage)} usage rows, {reader.requests} API requests")
    out.errors = [redact(e) for e in out.errors]  # API error bodies can quote a request
    return out


def _parse_pods_keeping_good_ones(
    pods: list[Any], owners: OwnerIndex, now: pd.Timestamp, errors: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All pods at once; if one is unreadable, pod by pod so that the others are kept."""
    try:
        return parse_pods({"items": pods}, owners=owners, now=now)
    except InputError:
        pass
    specs, events = [], []
    for pod in pods:
        try:
            s, e = parse_pods({"items": [pod]}, owners=owners, now=now)
        except InputError as exc:
            errors.append(f"kubernetes: pods: {exc}")
            continue
        specs.append(s)
        events.append(e)
    specs = [s for s in specs if not s.empty]
    events = [e for e in events if not e.empty]
    return (pd.concat(specs, ignore_index=True) if specs else model.empty_specs(),
            pd.concat(events, ignore_index=True) if events else model.empty_events())


def _path(prefix: str, resource: str, ns: str | None) -> str:
    from urllib.parse import quote

    return f"{prefix}/namespaces/{quote(ns, safe='')}/{resource}" if ns else f"{prefix}/{resource}"


def _usage(
    reader: K8sReader, pods: list[Any], by_pod: Any, ns: str | None,
    now: pd.Timestamp, workers: int, out: Collected,
) -> pd.DataFrame:
    """Usage from every node's stats summary; metrics.k8s.io for pods on nodes that failed."""
    nodes = sorted({as_str(as_dict(as_dict(p).get("spec")).get("nodeName")) for p in pods} - {""})
    if not ns:  # cluster-wide: nodes without any listed pod still have system pods worth reading
        try:
            listed = reader.list_all("/api/v1/nodes", Access("list", "nodes"))
            nodes = sorted(set(nodes) | {as_str(as_dict(as_dict(n).get("metadata")).get("name"))
                                         for n in listed} - {""})
        except SourceError as exc:
            out.errors.append(f"kubernetes: {exc}")

    forbidden: list[str] = []

    def summary(node: str) -> pd.DataFrame | str:
        try:
            path = f"/api/v1/nodes/{quote(node, safe='')}/proxy/stats/summary"
            payload = reader.fetch(path, Access("get", "nodes/proxy"))
            return parse_stats_summary(payload, now, owners=by_pod, what=f"node {node} summary")
        except Forbidden:
            forbidden.append(node)  # the default role has no nodes/proxy: one note, below
            return ""
        except (SourceError, InputError) as exc:
            return f"kubernetes: node {node} stats summary: {exc}"

    frames: list[pd.DataFrame] = []
    failed: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(nodes) or 1))) as pool:
        for node, res in zip(nodes, pool.map(summary, nodes), strict=True):
            if isinstance(res, str):
                failed.append(node)
                if res:
                    out.errors.append(res)
            else:
                frames.append(res)
    if forbidden:
        out.notes.append(f"kubernetes: no 'get' on 'nodes/proxy' (the default read-only role); "
                         f"usage of {len(forbidden)} node(s) from metrics.k8s.io instead")
    if failed or not nodes:
        covered = {(n, p) for f in frames for n, p in zip(f["namespace"], f["pod"], strict=True)}
        frames.append(_metrics_fallback(reader, ns, by_pod, covered, out))
    frames = [f for f in frames if not f.empty]
    usage = pd.concat(frames, ignore_index=True) if frames else model.empty_usage()
    if ns and not usage.empty:
        usage = usage[usage["namespace"] == ns].reset_index(drop=True)
    return usage


def _metrics_fallback(
    reader: K8sReader, ns: str | None, by_pod: Any, covered: set[tuple[str, str]],
    out: Collected,
) -> pd.DataFrame:
    access = Access("list", "pods.metrics.k8s.io", ns)
    try:
        items = reader.list_all(_path("/apis/metrics.k8s.io/v1beta1", "pods", ns), access)
        df = parse_pod_metrics({"items": items}, owners=by_pod)
    except (SourceError, InputError) as exc:
        out.errors.append(f"kubernetes: metrics.k8s.io fallback: {exc}")
        return model.empty_usage()
    if covered and not df.empty:
        # Only pods that no node summary reported: the others are already counted.
        keys = zip(df["namespace"], df["pod"], strict=True)
        df = df[[k not in covered for k in keys]].reset_index(drop=True)
    out.notes.append(f"kubernetes: {len(df)} usage rows from metrics.k8s.io")
    return df


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    if b.empty:
        return a
    if a.empty:
        return b
    return pd.concat([a, b], ignore_index=True)
