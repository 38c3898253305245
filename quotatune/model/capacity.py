"""Result types of capacity planning: the plan and everything it is made of.

They live in the model so that rendering can take a plan without importing the analysis that
computes it (docs/architecture.md, "Layers").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quotatune.model.units import GIB, MIB, bytes_to_mib_ceil, format_cpu, format_memory_mib

DEFAULT_MAX_PODS = 110  # the kubelet's default --max-pods
HOURS_PER_MONTH = 730


def _pct(used: int, total: int) -> float | None:
    return round(100 * used / total, 1) if total else None


@dataclass(frozen=True)
class BinCount:
    """The answer of :func:`min_bins`."""

    bins: int | None  # None: some item is larger than an empty bin
    lower_bound: int
    method: str  # "ffd" | "dot-product" | "milp" ("none" when nothing can be placed)
    optimal: bool
    assignment: np.ndarray  # bin index per item, -1 for items that fit no empty bin
    unplaceable: tuple[int, ...]  # indices of items larger than the bin capacity
    note: str = ""

    @property
    def gap(self) -> int | None:
        return None if self.bins is None else self.bins - self.lower_bound


@dataclass(frozen=True)
class NodeShape:
    name: str
    cpu: int  # allocatable millicores
    memory: int  # allocatable bytes
    pods: int = DEFAULT_MAX_PODS

    def capacity(self) -> np.ndarray:
        return np.array([self.cpu, self.memory, self.pods], dtype=np.int64)


@dataclass(frozen=True)
class NodeUse:
    node: str
    allocatable: tuple[int, int, int]  # millicores, bytes, pods
    requested: tuple[int, int, int]

    def to_dict(self) -> dict[str, Any]:
        (ac, am, ap), (rc, rm, rp) = self.allocatable, self.requested
        return {
            "node": self.node,
            "cpu_allocatable_millicores": ac, "cpu_requested_millicores": rc,
            "cpu_pct": _pct(rc, ac),
            "memory_allocatable_mib": am // MIB, "memory_requested_mib": -(-rm // MIB),
            "memory_pct": _pct(rm, am),
            "pods_allocatable": ap, "pods": rp,
        }


@dataclass(frozen=True)
class Pending:
    """Pods of one workload that would stay Pending, with the scheduler's words for it."""

    namespace: str
    workload: str
    pods: int
    cpu: int  # millicores per pod
    memory: int  # bytes per pod
    lacks: str  # "cpu" | "memory" | "both" | "pods" | "cpu+pods" | ...
    message: str
    node: str | None = None  # the node a DaemonSet pod was meant for

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "workload": self.workload, "pods": self.pods,
                "cpu_request_millicores": self.cpu, "memory_request_mib": -(-self.memory // MIB),
                "lacks": self.lacks, "message": self.message, "node": self.node}


@dataclass(frozen=True)
class ShapeCount:
    shape: NodeShape
    result: BinCount
    daemon_overhead: tuple[int, int, int]  # what the DaemonSets take on every node
    unplaceable: tuple[str, ...]  # ns/workload of pods larger than an empty node

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {"shape": self.shape.name, "nodes": r.bins, "lower_bound": r.lower_bound,
                "gap": r.gap, "method": r.method, "optimal": r.optimal, "note": r.note,
                "daemonset_cpu_millicores": self.daemon_overhead[0],
                "daemonset_memory_mib": -(-self.daemon_overhead[1] // MIB),
                "unplaceable": list(self.unplaceable)}


@dataclass(frozen=True)
class NamespaceQuota:
    namespace: str
    pods: int
    surge_pods: int
    # None: left out of the quota (no container declares it, or some would stay without it)
    requests_cpu: int | None  # millicores
    requests_memory: int | None  # bytes
    limits_cpu: int | None
    limits_memory: int | None
    limit_range: dict[str, dict[str, str]] = field(default_factory=dict)
    # Containers that declare no request and will get the LimitRange's defaultRequest (the
    # quota counts them at that default; the packing, like the scheduler today, at zero).
    defaulted: int = 0

    def hard(self) -> dict[str, str]:
        h = {"pods": str(self.pods)}
        if self.requests_cpu is not None:
            h["requests.cpu"] = format_cpu(self.requests_cpu)
        if self.requests_memory is not None:
            h["requests.memory"] = format_memory_mib(bytes_to_mib_ceil(self.requests_memory))
        if self.limits_cpu is not None:
            h["limits.cpu"] = format_cpu(self.limits_cpu)
        if self.limits_memory is not None:
            h["limits.memory"] = format_memory_mib(bytes_to_mib_ceil(self.limits_memory))
        return h

    def manifests(self) -> list[dict[str, Any]]:
        meta = {"name": "quotatune", "namespace": self.namespace}
        docs: list[dict[str, Any]] = [{
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": dict(meta),
            "spec": {"hard": self.hard()},
        }]
        if self.limit_range:
            docs.append({
                "apiVersion": "v1", "kind": "LimitRange", "metadata": dict(meta),
                "spec": {"limits": [{"type": "Container", **self.limit_range}]},
            })
        return docs

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "pods": self.pods, "surge_pods": self.surge_pods,
                "hard": self.hard(), "limit_range": self.limit_range,
                "containers_defaulted": self.defaulted}


@dataclass(frozen=True)
class Prices:
    core_hour: float
    gib_hour: float

    def per_hour(self, millicores: int, nbytes: int) -> float:
        return millicores / 1000 * self.core_hour + nbytes / GIB * self.gib_hour


@dataclass(frozen=True)
class Freed:
    namespace: str
    workload: str | None  # None for a namespace total
    pods: int
    cpu_millicores: int  # positive = freed
    memory_bytes: int

    def to_dict(self, prices: Prices | None) -> dict[str, Any]:
        d: dict[str, Any] = {"namespace": self.namespace}
        if self.workload is not None:
            d["workload"] = self.workload
        d.update(pods=self.pods, cores_freed=round(self.cpu_millicores / 1000, 3),
                 gib_freed=round(self.memory_bytes / GIB, 3))
        if prices is not None:
            hour = prices.per_hour(self.cpu_millicores, self.memory_bytes)
            d.update(cost_per_hour=round(hour, 4), cost_per_month=round(hour * HOURS_PER_MONTH, 2))
        return d


@dataclass(frozen=True)
class Savings:
    workloads: tuple[Freed, ...]
    namespaces: tuple[Freed, ...]
    total: Freed
    prices: Prices | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "prices": None if self.prices is None else {
                "core_hour": self.prices.core_hour, "gib_hour": self.prices.gib_hour},
            "total": self.total.to_dict(self.prices),
            "namespaces": [f.to_dict(self.prices) for f in self.namespaces],
            "workloads": [f.to_dict(self.prices) for f in self.workloads],
        }


@dataclass(frozen=True)
class HostCapacity:
    """What ``docker info`` reports: NCPU and MemTotal (bytes)."""

    ncpu: int
    mem_total_bytes: int


@dataclass(frozen=True)
class DockerFit:
    containers: int
    cpu_millicores: int  # sum of recommended CPU limits (request where no limit)
    memory_bytes: int  # sum of recommended memory limits (request where no limit)
    host: HostCapacity
    no_cpu_limit: tuple[str, ...]  # containers that may use every CPU of the host
    no_memory_limit: tuple[str, ...]

    @property
    def fits_cpu(self) -> bool:
        return self.cpu_millicores <= self.host.ncpu * 1000

    @property
    def fits_memory(self) -> bool:
        return self.memory_bytes <= self.host.mem_total_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "containers": self.containers,
            "cpu_limits_millicores": self.cpu_millicores,
            "host_cpu_millicores": self.host.ncpu * 1000,
            "memory_limits_mib": -(-self.memory_bytes // MIB),
            "host_memory_mib": self.host.mem_total_bytes // MIB,
            "fits_cpu": self.fits_cpu,
            "fits_memory": self.fits_memory,
            "no_cpu_limit": list(self.no_cpu_limit),
            "no_memory_limit": list(self.no_memory_limit),
        }


@dataclass(frozen=True)
class Scenario:
    name: str
    pods: int
    requested: tuple[int, int]  # millicores, bytes over all pods
    nodes: tuple[NodeUse, ...]
    pending: tuple[Pending, ...]
    shapes: tuple[ShapeCount, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pods": self.pods,
            "pending_pods": sum(p.pods for p in self.pending),
            "cpu_requested_millicores": self.requested[0],
            "memory_requested_mib": -(-self.requested[1] // MIB),
            "nodes": [n.to_dict() for n in self.nodes],
            "pending": [p.to_dict() for p in self.pending],
            "node_counts": [s.to_dict() for s in self.shapes],
        }


@dataclass
class CapacityPlan:
    scenarios: dict[str, Scenario]
    quotas: list[NamespaceQuota]
    quotas_yaml: str
    savings: Savings
    docker: DockerFit | None = None
    pending_check: list[dict[str, Any]] = field(default_factory=list)
    nodes_known: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes_known": self.nodes_known,
            "scenarios": {k: v.to_dict() for k, v in self.scenarios.items()},
            "quotas": [q.to_dict() for q in self.quotas],
            "quotas_yaml": self.quotas_yaml,
            "savings": self.savings.to_dict(),
            "docker": None if self.docker is None else self.docker.to_dict(),
            "pending_check": self.pending_check,
            "notes": list(self.notes),
        }
