"""Where pods land: existing nodes (utilisation, Pending) and candidate node shapes (counts).

Resource columns are (CPU millicores, memory bytes, pod slots), all integers.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from quotatune.analysis.capacity import packing
from quotatune.analysis.capacity.pods import WorkloadPods
from quotatune.model.capacity import DEFAULT_MAX_PODS, BinCount, NodeShape, Pending, ShapeCount
from quotatune.model.errors import InputError
from quotatune.model.units import cpu_quantity_to_millicores, memory_quantity_to_bytes

RESOURCES = ("cpu", "memory", "pods")
REASONS = {"cpu": "Insufficient cpu", "memory": "Insufficient memory", "pods": "Too many pods"}


# Each part is handed whole to the quantity parser, so a shape takes every form a Kubernetes
# quantity takes ("1e3", "1.5e3m" and "16Gi" alike), as a --nodes file's allocatable does.
_SHAPE = re.compile(r"^(?P<cpu>[^/]+?)(?:cpus?)?/(?P<mem>[^/]+)(?:/(?P<pods>[0-9]+)(?:pods?)?)?$",
                    re.ASCII)
# Resources are held as int64 (millicores, bytes, pod slots): a larger one would overflow
# the arrays the packing works on.
INT64_MAX = int(np.iinfo(np.int64).max)


def parse_shape(text: str) -> NodeShape:
    """"4cpu/16Gi", "3500m/15Gi" or "4cpu/16Gi/58pods" (allocatable; max pods default 110)."""
    m = _SHAPE.match(text.strip().replace(" ", ""))
    hint = "use CPU/MEMORY[/PODS], e.g. 4cpu/16Gi or 3500m/15Gi/58pods"
    if not m:
        raise InputError(f"bad --node-shape {text!r}: {hint}")
    try:
        cpu = cpu_quantity_to_millicores(m.group("cpu"))
        mem = memory_quantity_to_bytes(m.group("mem"))
    except InputError as exc:  # the parser's reason (out of range, not a quantity) too
        raise InputError(f"bad --node-shape {text!r}: {exc}; {hint}") from None
    pods = int(m.group("pods")) if m.group("pods") else DEFAULT_MAX_PODS
    if cpu <= 0 or mem <= 0 or pods <= 0:
        raise InputError(f"bad --node-shape {text!r}: CPU, memory and pods must be above zero")
    for what, value in (("CPU", cpu), ("memory", mem), ("pods", pods)):
        if value > INT64_MAX:
            raise InputError(f"bad --node-shape {text!r}: {what} is out of range")
    return NodeShape(text.strip(), cpu, mem, pods)


def node_arrays(nodes: pd.DataFrame | None, source: str = "nodes"
                ) -> tuple[list[str], np.ndarray, list[str]]:
    """Names and allocatable (millicores, bytes, pods) of the schedulable nodes, + notes.
    ``source`` (where the nodes came from, e.g. "--nodes FILE") starts an error's line."""
    if nodes is None or nodes.empty:
        return [], np.zeros((0, 3), dtype=np.int64), []
    notes = []
    keep = pd.Series(True, index=nodes.index)
    for col, what in (("unschedulable", "cordoned"), ("ready", "not Ready")):
        if col in nodes.columns:
            # Unknown means schedulable and Ready: leave a node out only on evidence.
            bad = nodes[col].astype(object).fillna(col == "ready").astype(bool)
            bad = bad if col == "unschedulable" else ~bad
            if bad.any():
                notes.append(f"left out {int(bad.sum())} {what} node(s): "
                             + ", ".join(nodes.loc[bad, "node"].astype(str)[:5]))
            keep &= ~bad
    nodes = nodes[keep]
    names = [str(n) for n in nodes["node"]]
    cpu = [_allocatable(source, n, "cpu", v, lambda x: math.floor(round(float(x) * 1000, 6)),
                        0) for n, v in zip(names, nodes["cpu_allocatable_cores"], strict=True)]
    mem = [_allocatable(source, n, "memory", v, int, 0)
           for n, v in zip(names, nodes["memory_allocatable_bytes"], strict=True)]
    pods = [_allocatable(source, n, "pods", v, int, DEFAULT_MAX_PODS)
            for n, v in zip(names, nodes["pods_allocatable"], strict=True)]
    alloc = np.array([cpu, mem, pods], dtype=np.int64).T.reshape(-1, 3)
    return names, alloc, notes


def _allocatable(source: str, node: str, what: str, value: object,
                 convert: Callable[[Any], int], unknown: int) -> int:
    """A node's allocatable ``what`` in its integer unit (``unknown`` if it gives none).
    A value at or below zero or past int64 is refused: the packing would place pods on a
    node of negative room, or overflow."""
    if not pd.notna(value):  # type: ignore[call-overload]
        return unknown
    try:
        number = float(value)  # type: ignore[arg-type]
        n = convert(value) if math.isfinite(number) else None
    except (TypeError, ValueError, OverflowError):
        n = None
    if n is None or n > INT64_MAX or n <= 0:
        shown = f"{value:g}" if isinstance(value, float) else repr(value)
        unit = {"cpu": " cores", "memory": " bytes"}.get(what, "")
        why = "must be above zero" if n is not None and n <= 0 else "is out of range"
        raise InputError(f"{source}: node {node!r}: allocatable {what} {shown}{unit} {why}")
    return n


def expand(ws: list[WorkloadPods], scenario: str, nnodes: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(demand n x 3, workload index per pod, target node per pod) for one scenario."""
    demand, owner, target = [], [], []
    for wi, w in enumerate(ws):
        cpu, mem = w.pod_request(scenario)
        if w.is_daemonset:
            for j in range(nnodes):
                demand.append((cpu, mem, 1))
                owner.append(wi)
                target.append(j)
        else:
            demand.extend([(cpu, mem, 1)] * w.replicas)
            owner.extend([wi] * w.replicas)
            target.extend([-1] * w.replicas)
    return (np.array(demand, dtype=np.int64).reshape(-1, 3), np.array(owner, dtype=np.int64),
            np.array(target, dtype=np.int64))


def _lacks(resources: set[str]) -> str:
    if resources == {"cpu", "memory"}:
        return "both"
    return "+".join(r for r in RESOURCES if r in resources)


def pending_pods(
    ws: list[WorkloadPods], names: list[str], demand: np.ndarray, owner: np.ndarray,
    target: np.ndarray, assignment: np.ndarray, free: np.ndarray,
) -> tuple[Pending, ...]:
    """Pending pods grouped by workload, with the message kube-scheduler would write."""
    groups: Counter[tuple[int, int, str, str]] = Counter()
    for i in np.flatnonzero(assignment < 0):
        short = shortfalls(demand[i], free)
        counts: Counter[str] = Counter()
        t = int(target[i])
        if t >= 0:  # a DaemonSet pod: only its own node counts, the others do not match
            per_resource = short[t].astype(np.int64)
            if len(names) > 1:
                counts["node(s) didn't match Pod's node affinity/selector"] = len(names) - 1
        else:
            per_resource = short.sum(axis=0)
        lacking = {res for r, res in enumerate(RESOURCES) if per_resource[r]}
        counts.update({REASONS[res]: int(per_resource[r]) for r, res in enumerate(RESOURCES)
                       if per_resource[r]})
        # kube-scheduler's FitError: "0/N nodes are available: <count> <reason>, ...", sorted.
        body = ", ".join(sorted(f"{c} {r}" for r, c in counts.items()))
        groups[(int(owner[i]), t, _lacks(lacking),
                f"0/{len(names)} nodes are available: {body}.")] += 1
    out = []
    for (wi, t, lacks, msg), n in sorted(groups.items()):
        w = ws[wi]
        first = int(np.flatnonzero(owner == wi)[0])
        cpu, mem = int(demand[first, 0]), int(demand[first, 1])
        out.append(Pending(w.namespace, w.workload, n, cpu, mem, lacks, msg,
                           names[t] if t >= 0 else None))
    return tuple(out)


def shape_counts(ws: list[WorkloadPods], scenario: str, shapes: list[NodeShape],
                 time_limit: float) -> tuple[ShapeCount, ...]:
    """Nodes of each shape for the non-DaemonSet pods, after every node's DaemonSet pods."""
    daemon = np.zeros(3, dtype=np.int64)
    for w in ws:
        if w.is_daemonset:
            daemon += np.array((*w.pod_request(scenario), 1), dtype=np.int64)
    demand, owner, _ = expand([w for w in ws if not w.is_daemonset], scenario, 0)
    rest = [w for w in ws if not w.is_daemonset]
    out = []
    for shape in shapes:
        usable = shape.capacity() - daemon
        overhead = (int(daemon[0]), int(daemon[1]), int(daemon[2]))
        if np.any(usable < 0):
            lacking = [RESOURCES[r] for r in np.flatnonzero(usable < 0)]
            res = BinCount(None, 0, "none", False, np.full(len(demand), -1), (),
                                   f"the DaemonSets alone need more {'/'.join(lacking)} "
                                   "than one node has")
            out.append(ShapeCount(shape, res, overhead, ()))
            continue
        res = packing.min_bins(demand, usable, time_limit=time_limit)
        names = sorted({f"{rest[owner[i]].namespace}/{rest[owner[i]].workload}"
                        for i in res.unplaceable})
        out.append(ShapeCount(shape, res, overhead, tuple(names)))
    return tuple(out)


def schedule(
    demand: np.ndarray, allocatable: np.ndarray, target_node: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Place pods on existing nodes the way the scheduler's resource filter would.

    ``demand`` is n x k (resource columns as in ``allocatable``, m x k); ``target_node`` is
    the node a DaemonSet pod belongs to, -1 for any other pod.  DaemonSet pods go first (the
    DaemonSet controller places them on every node before ordinary pods compete for room);
    then the rest, largest first, each on the fitting node with the most room left, as the
    default ``LeastAllocated`` scoring does.  Largest-first is an optimistic queue order: a
    pod reported Pending here would be Pending in any arrival order.

    Returns (node index per pod or -1 for Pending, free room per node afterwards).
    """
    free = allocatable.astype(np.int64).copy()
    assignment = np.full(len(demand), -1, dtype=np.int64)
    for i in np.flatnonzero(target_node >= 0):
        j = int(target_node[i])
        if np.all(demand[i] <= free[j]):
            free[j] -= demand[i]
            assignment[i] = j
    rest = np.flatnonzero(target_node < 0)
    if len(rest) and len(free):
        # Scores use the first two resources (CPU and memory); pod slots only filter.
        scale = np.maximum(allocatable[:, :2], 1).astype(np.float64)
        for i in rest[packing.ffd_order(demand[rest], allocatable.max(axis=0))]:
            fits = np.all(free >= demand[i], axis=1)
            if not fits.any():
                continue
            score = ((free[:, :2] - demand[i, :2]) / scale).mean(axis=1)
            score[~fits] = -np.inf
            j = int(np.argmax(score))
            free[j] -= demand[i]
            assignment[i] = j
    return assignment, free


def shortfalls(demand: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Boolean m x k: which resources a node lacks for one pod's ``demand``."""
    return free < demand[None, :]
