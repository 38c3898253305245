"""Capacity planning: what fits, what stays Pending, how many nodes, quotas, savings.

Entry point (pure; no I/O)::

    plan_capacity(recs, specs, nodes, shapes, *, max_surge=0.25, prices=None,
                  docker_host=None, events=None, time_limit=5.0, usage=None) -> CapacityPlan

* ``recs`` - ``list[Recommendation]``; ``specs`` - the spec frame (replicas, workload_kind,
  current requests; may be ``None``); ``nodes`` - the nodes frame of
  :mod:`quotatune.sources.kubernetes.nodes` (``node``, ``cpu_allocatable_cores``,
  ``memory_allocatable_bytes``, ``pods_allocatable``; may be ``None``); ``shapes`` - candidate
  node shapes from :func:`parse_shape` ("4cpu/16Gi").
* Both the *current* and the *recommended* requests are packed: DaemonSet pods on every node
  first, then the replicas of everything else (see :func:`.packing.schedule`).
  Pending pods carry the resource they lack and the message kube-scheduler would write.  It is
  a fresh placement, as after a full rollout or a node replacement, not the pods' current nodes.
* For every shape, the minimum node count (:func:`quotatune.analysis.capacity.packing.min_bins`:
  first-fit-decreasing and a dot-product greedy, then an exact MILP when the instance is small
  enough; always with the method used and the gap to the lower bound).
* Namespace ResourceQuota + LimitRange with rolling-update headroom
  (:mod:`quotatune.analysis.capacity.quotas`), savings and Docker host fit (:mod:`.savings`).

``CapacityPlan.to_dict()`` is the JSON the CLI prints and the HTML report embeds.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from quotatune.analysis.capacity import packing
from quotatune.analysis.capacity.nodes import (
    expand,
    node_arrays,
    parse_shape,
    pending_pods,
    schedule,
    shape_counts,
)
from quotatune.analysis.capacity.pods import build_workloads, running_pods
from quotatune.analysis.capacity.quotas import namespace_quotas, quotas_yaml
from quotatune.analysis.capacity.savings import docker_fit, savings
from quotatune.model import Recommendation
from quotatune.model.capacity import (
    CapacityPlan,
    HostCapacity,
    NodeShape,
    NodeUse,
    Pending,
    Prices,
    Scenario,
)

SCENARIOS = ("current", "recommended")


_OBSERVED = re.compile(r"Insufficient (cpu|memory)|(Too many pods)")


def _pending_check(events: pd.DataFrame | None, scenario: Scenario) -> list[dict[str, Any]]:
    """Set FailedScheduling events that name resources beside the prediction for the
    current requests: does the plan explain what the cluster reported?"""
    if events is None or events.empty or not {"reason", "message"} <= set(events.columns):
        return []
    # FailedScheduling events, and the PodScheduled=False condition of a Pending pod (kind
    # "scheduling", reason "Unschedulable"), carry the same scheduler message.
    kind = events["kind"].astype(str) if "kind" in events.columns else ""
    failed = events[(events["reason"].astype(str) == "FailedScheduling") | (kind == "scheduling")]
    predicted: dict[tuple[str, str], set[str]] = {}
    for p in scenario.pending:
        predicted.setdefault((p.namespace, p.workload), set()).update(
            {"cpu", "memory"} if p.lacks == "both" else set(p.lacks.split("+")))
    seen: dict[tuple[str, str], set[str]] = {}
    for row in failed.itertuples(index=False):
        found = {m.group(1) or "pods" for m in _OBSERVED.finditer(str(row.message))}
        if found:
            seen.setdefault((str(row.namespace), str(row.workload)), set()).update(found)
    return [{"namespace": ns, "workload": wl, "observed": sorted(obs),
             "predicted": sorted(predicted.get((ns, wl), set())),
             "agrees": obs == predicted.get((ns, wl), set())}
            for (ns, wl), obs in sorted(seen.items())]


def plan_capacity(
    recs: list[Recommendation],
    specs: pd.DataFrame | None,
    nodes: pd.DataFrame | None,
    shapes: list[NodeShape],
    *,
    max_surge: float | int = 0.25,
    prices: Prices | None = None,
    docker_host: HostCapacity | None = None,
    events: pd.DataFrame | None = None,
    time_limit: float = packing.EXACT_TIME_LIMIT_S,
    usage: pd.DataFrame | None = None,
    nodes_from: str = "nodes",
) -> CapacityPlan:
    """The whole plan; see the module docstring.  ``usage`` (optional) tells how many pods of
    each workload run now when the specs do not say (see ``running_pods``); ``nodes_from``
    names where ``nodes`` came from in an error about them."""
    ws = build_workloads(recs, specs, running_pods(usage))
    names, alloc, notes = node_arrays(nodes, nodes_from)
    scenarios = {}
    for sc in SCENARIOS:
        demand, owner, target = expand(ws, sc, len(names))
        use: tuple[NodeUse, ...] = ()
        pend: tuple[Pending, ...] = ()
        if names:
            assignment, free = schedule(demand, alloc, target)
            use = tuple(NodeUse(n, _triple(alloc[j]), _triple(alloc[j] - free[j]))
                        for j, n in enumerate(names))
            pend = pending_pods(ws, names, demand, owner, target, assignment, free)
        total = (int(demand[:, 0].sum()), int(demand[:, 1].sum()))
        scenarios[sc] = Scenario(sc, len(demand), total, use, pend,
                                 shape_counts(ws, sc, shapes, time_limit))
    if names:
        daemon_pods = len(names)
    else:
        notes.append("no nodes given: Pending pods and utilisation need --nodes or --context; "
                     "node counts are for the --node-shape candidates only")
        counts = [s.result.bins for s in scenarios["recommended"].shapes if s.result.bins]
        daemon_pods = counts[0] if counts else 1
        if any(w.is_daemonset for w in ws):
            notes.append(f"DaemonSets counted as {daemon_pods} pod(s) each in quotas and savings")
    quotas = namespace_quotas(ws, daemon_pods=daemon_pods, max_surge=max_surge)
    docker_recs = [r for r in recs if r.platform == "docker"]
    if docker_host is not None and not docker_recs and all(r.platform is None for r in recs):
        docker_recs = list(recs)  # nothing says where they run: the host given is the answer
    dfit = docker_fit(docker_recs, docker_host) if docker_host is not None else None
    if not ws:
        notes.append("no Kubernetes workloads to pack")
    return CapacityPlan(
        scenarios=scenarios, quotas=quotas, quotas_yaml=quotas_yaml(quotas, max_surge),
        savings=savings(ws, daemon_pods=daemon_pods, prices=prices), docker=dfit,
        pending_check=_pending_check(events, scenarios["current"]), nodes_known=bool(names),
        notes=notes,
    )


def _triple(row: np.ndarray) -> tuple[int, int, int]:
    return int(row[0]), int(row[1]), int(row[2])


__all__ = ["CapacityPlan", "HostCapacity", "NodeShape", "Prices", "Scenario", "parse_shape",
           "plan_capacity"]
