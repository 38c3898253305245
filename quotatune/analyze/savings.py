"""What the recommendations free, and whether Docker hosts can hold the recommended limits.

Savings are requested resources given back to the scheduler: (current - recommended) pod
request x pods, per workload and per namespace; negative numbers are increases.  Cost needs
the user's prices per core-hour and GiB-hour; a month is 730 hours (8760 / 12).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quotatune.analyze.capacity_pods import WorkloadPods
from quotatune.model import Recommendation
from quotatune.units import GIB, MIB

HOURS_PER_MONTH = 730


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


def savings(workloads: list[WorkloadPods], *, daemon_pods: int,
            prices: Prices | None = None) -> Savings:
    rows = []
    for w in workloads:
        n = daemon_pods if w.is_daemonset else w.replicas
        cc, cm = w.pod_request("current")
        rc, rm = w.pod_request("recommended")
        rows.append(Freed(w.namespace, w.workload, n, n * (cc - rc), n * (cm - rm)))
    by_ns: dict[str, list[Freed]] = {}
    for f in rows:
        by_ns.setdefault(f.namespace, []).append(f)
    namespaces = tuple(_sum(ns, fs) for ns, fs in sorted(by_ns.items()))
    # Largest savings first: that is where a review starts.
    order = sorted(rows, key=lambda f: (-(f.cpu_millicores / 1000 + f.memory_bytes / GIB),
                                        f.namespace, f.workload or ""))
    return Savings(tuple(order), namespaces, _sum("(all)", rows), prices)


def _sum(ns: str, fs: list[Freed]) -> Freed:
    return Freed(ns, None, sum(f.pods for f in fs), sum(f.cpu_millicores for f in fs),
                 sum(f.memory_bytes for f in fs))


# ---------------------------------------------------------------------------------------------
# Docker hosts


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


def docker_fit(recs: list[Recommendation], host: HostCapacity) -> DockerFit:
    """Sum the recommended limits of the Docker containers against the host.

    A container without a recommended limit counts with its request (or its current limit when
    nothing was recommended) and is listed, since it can take the whole host."""
    cpu = mem = 0
    no_cpu, no_mem = [], []
    for r in recs:
        name = str(r.key)
        c = r.cpu_limit_millicores or r.cpu_request_millicores
        if c is None:
            c = r.current.cpu_limit_millicores or r.current.cpu_request_millicores
        m_mib = r.memory_limit_mib or r.memory_request_mib
        if m_mib is None:
            m_mib = r.current.memory_limit_mib or r.current.memory_request_mib
        if r.cpu_limit_millicores is None:
            no_cpu.append(name)
        if r.memory_limit_mib is None:
            no_mem.append(name)
        cpu += c or 0
        mem += (m_mib or 0) * MIB
    return DockerFit(len(recs), cpu, mem, host, tuple(no_cpu), tuple(no_mem))
