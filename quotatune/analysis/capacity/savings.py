"""What the recommendations free, and whether Docker hosts can hold the recommended limits.

Savings are requested resources given back to the scheduler: (current - recommended) pod
request x pods, per workload and per namespace; negative numbers are increases.  Cost needs
the user's prices per core-hour and GiB-hour; a month is 730 hours (8760 / 12).
"""

from __future__ import annotations

from quotatune.analysis.capacity.pods import WorkloadPods
from quotatune.model import Recommendation
from quotatune.model.capacity import (
    DockerFit,
    Freed,
    HostCapacity,
    Prices,
    Savings,
)
from quotatune.model.units import GIB, MIB


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
