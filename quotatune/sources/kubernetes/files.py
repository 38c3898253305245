"""File mode for clusters the tool cannot reach: importers for ``quotatune import``/``--from``.

- ``kubectl``: ``kubectl get pods,nodes,events -A -o json`` (a ``List``), or any PodList,
  EventList, single Pod, or metrics.k8s.io PodMetricsList dump; the same as ``-o yaml``, and
  multi-document YAML (``---``-separated objects or lists), read with ``yaml.safe_load_all``.
  Nodes in the dump are not part of ``Collected``;
  :func:`quotatune.sources.kubernetes.nodes.read_nodes_file` reads them.
- ``stats-summary``: ``kubectl get --raw /api/v1/nodes/NODE/proxy/stats/summary`` output.
- ``ksm``: kube-state-metrics text: requests/limits, owners, restarts, terminations, nodes.
- ``kubelet-metrics``: ``/metrics/resource`` or ``/metrics/cadvisor`` text; the scrape time of
  samples without a timestamp is the file's modification time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.sources.kubernetes.events import parse_events
from quotatune.sources.kubernetes.owners import pod_owners
from quotatune.sources.kubernetes.parse import items_of, parse_pods
from quotatune.sources.kubernetes.usage import (
    parse_pod_metrics,
    parse_prometheus_usage,
    parse_stats_summary,
)
from quotatune.sources.text import open_text

SOURCE = "kubectl"


def _json(path: Path) -> Any:
    return _parse_json(open_text(path), path)


def _parse_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply") from None


def _objects(path: Path) -> Any:
    """The JSON payload, or the YAML documents as one payload: a single document as it is,
    several as a ``List`` of their objects (a document that is itself a list gives its items)."""
    text = open_text(path)
    if text.lstrip()[:1] in ("{", "["):
        return _parse_json(text, path)
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line
        raise InputError(f"{path}: not JSON or YAML ({what}{where})") from None
    except RecursionError:
        raise InputError(f"{path}: YAML nested too deeply") from None
    if len(docs) == 1:
        return docs[0]
    items: list[Any] = []
    for d in docs:
        inner = d.get("items") if isinstance(d, dict) else None
        items.extend(inner if isinstance(inner, list) else [d])
    return {"kind": "List", "items": items}


def _kind(item: dict[str, Any]) -> str:
    """The object's kind; kubelet/pod files and single-object extracts may omit it."""
    kind = item.get("kind")
    if isinstance(kind, str) and kind:
        return kind
    if "containers" in item and "timestamp" in item:
        return "PodMetrics"
    if "involvedObject" in item or "regarding" in item:
        return "Event"
    return "Pod" if isinstance(item.get("spec"), dict) and "containers" in item["spec"] else ""


def read_kubectl_dump(path: Path) -> Collected:
    payload = _objects(path)
    try:
        items = items_of(payload, str(path), ("Pod", "Event", "Node", "PodMetrics"))
        list_kind = payload.get("kind") if isinstance(payload, dict) else None
        groups: dict[str, list[Any]] = {}
        for item in items:
            kind = _kind(item) or {"PodList": "Pod", "EventList": "Event", "NodeList": "Node",
                                   "PodMetricsList": "PodMetrics"}.get(str(list_kind), "")
            groups.setdefault(kind, []).append(item)
        out = Collected()
        out.specs, out.events = parse_pods({"items": groups.get("Pod", [])}, source=SOURCE)
        owners = pod_owners(out.specs)
        if groups.get("Event"):
            ev = parse_events({"items": groups["Event"]}, owners=owners, source=SOURCE)
            out.events = pd.concat([out.events, ev], ignore_index=True) if not (
                out.events.empty) else ev
        if groups.get("PodMetrics"):
            out.usage = parse_pod_metrics({"items": groups["PodMetrics"]}, owners=owners,
                                          what=str(path))
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    if groups.get("Node"):
        out.notes.append(f"{path}: {len(groups['Node'])} node(s): pass this file to "
                         "`quotatune plan --nodes` for capacity planning")
    skipped = sorted(k or "unknown" for k in groups if k not in ("Pod", "Event", "Node",
                                                                  "PodMetrics"))
    if skipped:
        out.notes.append(f"{path}: ignored object kind(s) {', '.join(skipped)}")
    if not (groups.get("Pod") or groups.get("Event") or groups.get("PodMetrics")):
        raise InputError(f"{path}: no pods, events or pod metrics in this kubectl dump")
    return out


def read_stats_summary_file(path: Path) -> Collected:
    payload = _json(path)
    usage = parse_stats_summary(payload, None, what=str(path))
    if usage.empty:
        raise InputError(f"{path}: no container with CPU and memory usage in this stats summary")
    return Collected(usage=usage)


def read_kubelet_metrics(path: Path) -> Collected:
    scraped = pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC")
    lost: list[int] = []
    usage = parse_prometheus_usage(open_text(path), scraped, what=str(path),
                                   skipped=lost.append)
    out = Collected(usage=usage)
    if lost and lost[0]:
        out.notes.append(f"{path}: {lost[0]} container(s) without a CPU rate (no start time)")
    if usage.empty:
        raise InputError(f"{path}: no per-container CPU and memory samples in these metrics")
    return out


def read_ksm(path: Path) -> Collected:
    from quotatune.sources.kubernetes.ksm import parse_ksm

    specs, events, nodes = parse_ksm(open_text(path), str(path))
    if specs.empty and events.empty:
        raise InputError(f"{path}: no pod containers in these kube-state-metrics")
    out = Collected(specs=specs, events=events)
    if not nodes.empty:
        out.notes.append(f"{path}: {len(nodes)} node(s): pass this file to "
                         "`quotatune plan --nodes` for capacity planning")
    return out


def sniff_ksm(head: str) -> bool:
    return bool(re.search(r"^(?:# (?:HELP|TYPE) )?kube_\w+", head, re.M))


def sniff_stats_summary(head: str) -> bool:
    return bool(re.match(r'\s*\{\s*"node"\s*:', head)) and '"nodeName"' in head


def sniff_kubectl(head: str) -> bool:
    return head.lstrip().startswith("{") and bool(
        re.search(r'"(?:apiVersion|items|metadata|kind)"\s*:', head))


def sniff_kubectl_yaml(head: str) -> bool:
    """``kubectl get … -o yaml``: top-level ``apiVersion:`` and ``kind:`` (or ``items:``)
    lines, possibly after ``---`` and comments."""
    return bool(re.search(r"^apiVersion:\s*\S", head, re.M)) and bool(
        re.search(r"^(?:kind:\s*\w|items:)", head, re.M))


def sniff_kubelet_metrics(head: str) -> bool:
    return bool(re.search(r"^(?:# (?:HELP|TYPE) )?(?:container|cadvisor|machine)_\w+",
                          head, re.M))
