"""Kubernetes nodes: capacity and allocatable, for capacity planning (bin packing).

``Collected`` has no nodes frame, so nodes travel separately: :func:`parse_nodes` (pure),
:func:`read_nodes_file` (``kubectl get nodes -o json`` or a ``kubectl get pods,nodes,events
-o json`` List dump) and :func:`collect_nodes` (a live ``ApiClient``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune.model import units
from quotatune.model.errors import InputError
from quotatune.model.frames import NODE_COLUMNS
from quotatune.model.nametext import check_names
from quotatune.sources.kubernetes.fields import as_dict, as_list, as_str
from quotatune.sources.kubernetes.parse import items_of

_LABELS = {
    "instance_type": ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"),
    "zone": ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"),
    "arch": ("kubernetes.io/arch", "beta.kubernetes.io/arch"),
}


def _q(res: dict[str, Any], key: str, node: str, field: str, conv: Any) -> float | None:
    if res.get(key) is None:
        return None
    try:
        return float(conv(res[key]))
    except InputError as exc:
        raise InputError(f"node {node}: status.{field}.{key}: {exc}") from None


def parse_nodes(node_list: Any) -> pd.DataFrame:
    """A NodeList (or a List holding Nodes among other kinds) -> nodes frame."""
    rows = []
    for item in items_of(node_list, "nodes", ("Node",)):
        if item.get("kind") not in (None, "Node"):
            continue  # a mixed List dump: pods and events are read elsewhere
        meta, status = as_dict(item.get("metadata")), as_dict(item.get("status"))
        name = as_str(meta.get("name"))
        if not name:
            raise InputError("nodes: a node without metadata.name")
        cap, alloc = as_dict(status.get("capacity")), as_dict(status.get("allocatable"))
        labels = as_dict(meta.get("labels"))
        conds = [c for c in as_list(status.get("conditions")) if isinstance(c, dict)]
        row: dict[str, Any] = {
            "node": name,
            "cpu_capacity_cores": _q(cap, "cpu", name, "capacity", units.parse_quantity),
            "cpu_allocatable_cores": _q(alloc, "cpu", name, "allocatable", units.parse_quantity),
            "memory_capacity_bytes": _q(cap, "memory", name, "capacity",
                                        units.memory_quantity_to_bytes),
            "memory_allocatable_bytes": _q(alloc, "memory", name, "allocatable",
                                           units.memory_quantity_to_bytes),
            "pods_allocatable": _q(alloc, "pods", name, "allocatable", units.parse_quantity),
            "unschedulable": bool(as_dict(item.get("spec")).get("unschedulable", False)),
            "ready": any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds),
        }
        for col, keys in _LABELS.items():
            row[col] = next((as_str(labels[k]) for k in keys if k in labels), "")
        rows.append(row)
    return pd.DataFrame(rows, columns=NODE_COLUMNS)


def read_nodes_file(path: Path) -> pd.DataFrame:
    """``kubectl get nodes -o json``, a mixed List dump, or kube-state-metrics text."""
    from quotatune.sources.text import open_text

    text = open_text(path)
    if not text.lstrip().startswith("{"):  # kube-state-metrics text has the nodes too
        from quotatune.sources.kubernetes.ksm import parse_ksm

        nodes = parse_ksm(text, str(path))[2]
    else:
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        try:
            nodes = parse_nodes(payload)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
    # A hand-made file can hold what no cluster would: refused as a usage file's names are.
    check_names(nodes, str(path))
    return nodes


def collect_nodes(api_client: Any, *, timeout: float = 10, retries: int = 3) -> pd.DataFrame:
    """List the cluster's nodes through a ``kubernetes.client.ApiClient`` (paged)."""
    from quotatune.sources.kubernetes.api import Access, K8sReader

    reader = K8sReader(api_client, timeout=timeout, retries=retries)
    items = reader.list_all("/api/v1/nodes", Access("list", "nodes"))
    return parse_nodes({"items": items})


NODE_USAGE_COLUMNS = ["timestamp", "node", "cpu_cores", "memory_working_set_bytes"]


def parse_node_metrics(metrics: Any, what: str = "node metrics") -> pd.DataFrame:
    """metrics.k8s.io ``NodeMetricsList`` -> one row per node (whole-node usage)."""
    from quotatune.sources.kubernetes.fields import as_time

    rows = []
    for item in items_of(metrics, what, ("NodeMetrics",)):
        name, usage = as_str(as_dict(item.get("metadata")).get("name")), as_dict(item.get("usage"))
        ts = as_time(item.get("timestamp"))
        if not name or pd.isna(ts):
            raise InputError(f"{what}: node metrics without a name or timestamp")
        try:
            cpu = float(units.parse_quantity(usage.get("cpu", "")))
            mem = float(units.memory_quantity_to_bytes(usage.get("memory", "")))
        except InputError as exc:
            raise InputError(f"{what}: node {name}: {exc}") from None
        if not (0 <= cpu < math.inf and 0 <= mem < math.inf):  # NaN fails too
            raise InputError(f"{what}: node {name}: negative or infinite usage "
                             f"(cpu {usage.get('cpu')!r}, memory {usage.get('memory')!r})")
        rows.append({"timestamp": ts, "node": name, "cpu_cores": cpu,
                     "memory_working_set_bytes": mem})
    return pd.DataFrame(rows, columns=NODE_USAGE_COLUMNS)
