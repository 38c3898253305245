"""The pods a capacity plan packs: one template per workload, current and recommended.

A workload's pod requests what Kubernetes would charge it on a node: the sum of its app
containers, or the largest init container when that is larger (init containers run one at a
time, before the app containers).  A container with a limit but no request is charged its limit,
because the API server defaults the request to the limit.  CPU is in millicores and memory in
bytes, both integers, so packing and quotas never drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from quotatune.model import ContainerKey, Recommendation
from quotatune.model.units import MIB, cores_to_millicores_ceil


@dataclass(frozen=True)
class ContainerRequests:
    name: str
    init: bool
    cpu_request: int  # millicores charged on the node (0 when none)
    memory_request: int  # bytes charged on the node
    cpu_limit: int | None  # millicores; None = no limit
    memory_limit: int | None  # bytes; None = no limit


@dataclass(frozen=True)
class WorkloadPods:
    """A workload's pod template under the current and the recommended requests."""

    namespace: str
    workload: str
    kind: str  # "DaemonSet", "Deployment", "StatefulSet", ... or "" when unknown
    replicas: int
    current: tuple[ContainerRequests, ...]
    recommended: tuple[ContainerRequests, ...]

    @property
    def is_daemonset(self) -> bool:
        return self.kind.lower() == "daemonset"

    def containers(self, scenario: str) -> tuple[ContainerRequests, ...]:
        return self.current if scenario == "current" else self.recommended

    def pod_request(self, scenario: str) -> tuple[int, int]:
        """(millicores, bytes) one pod is charged under ``scenario``."""
        cs = self.containers(scenario)
        app = [c for c in cs if not c.init]
        init = [c for c in cs if c.init]
        cpu = max(sum(c.cpu_request for c in app), max((c.cpu_request for c in init), default=0))
        mem = max(
            sum(c.memory_request for c in app), max((c.memory_request for c in init), default=0)
        )
        return cpu, mem


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f >= 0 else None


def _cpu_m(cores: Any) -> int | None:
    f = _num(cores)
    return None if f is None else cores_to_millicores_ceil(f)


def _mem_b(nbytes: Any) -> int | None:
    f = _num(nbytes)
    return None if f is None else math.ceil(f)


def _charged(request: int | None, limit: int | None) -> int:
    if request is not None:
        return request
    return limit if limit is not None else 0


def _container(name: str, init: bool, cpu_r: int | None, cpu_l: int | None,
               mem_r: int | None, mem_l: int | None) -> ContainerRequests:
    return ContainerRequests(name, init, _charged(cpu_r, cpu_l), _charged(mem_r, mem_l),
                             cpu_l, mem_l)


def _recommended(cur: ContainerRequests, rec: Recommendation | None) -> ContainerRequests:
    if rec is None or (rec.cpu_request_millicores is None and rec.memory_request_mib is None
                       and rec.memory_limit_mib is None):
        return cur  # nothing usable recommended (e.g. insufficient data): keep what runs now
    cpu = rec.cpu_request_millicores
    mem = cur.memory_request if rec.memory_request_mib is None else rec.memory_request_mib * MIB
    mem_l = cur.memory_limit if rec.memory_limit_mib is None else rec.memory_limit_mib * MIB
    if mem_l is not None:
        mem = min(mem, mem_l)  # a request above its limit is refused by the API server
    # Memory from evidence alone (an OOM floor, a JVM's flags) leaves the CPU as it runs.
    return ContainerRequests(
        cur.name, cur.init,
        cur.cpu_request if cpu is None else cpu,
        mem,
        cur.cpu_limit if cpu is None else rec.cpu_limit_millicores, mem_l,
    )


def _from_current(rec: Recommendation) -> ContainerRequests:
    c = rec.current
    return _container(
        rec.container, False, c.cpu_request_millicores, c.cpu_limit_millicores,
        None if c.memory_request_mib is None else c.memory_request_mib * MIB,
        None if c.memory_limit_mib is None else c.memory_limit_mib * MIB,
    )


def _replicas(rows: list[dict[str, Any]], running: int | None) -> int:
    declared = [int(f) for f in (_num(r.get("replicas")) for r in rows) if f is not None]
    if declared:
        return max(declared)  # 0 for a workload scaled to zero
    if running:
        return running
    pods = {str(r.get("pod")) for r in rows if r.get("pod") is not None and str(r.get("pod"))
            and not (isinstance(r.get("pod"), float) and math.isnan(r["pod"]))}
    return len(pods) or 1


def running_pods(usage: pd.DataFrame | None, window: pd.Timedelta = pd.Timedelta("15min")
                 ) -> dict[tuple[str, str], int]:
    """Pods per workload that reported usage within ``window`` of the workload's last sample.

    A history store keeps a spec row for every pod it ever saw, so after a few rollouts the
    pod names of a 3-replica Deployment number far more than 3; the last samples say how many
    run now."""
    if usage is None or usage.empty or "pod" not in usage.columns:
        return {}
    u = usage[["timestamp", "namespace", "workload", "pod"]]
    u = u[u["timestamp"] >= u["timestamp"].max() - pd.Timedelta("1D")]  # cheap pre-filter
    last = u.groupby(["namespace", "workload"])["timestamp"].transform("max")
    recent = u[(u["timestamp"] >= last - window) & (u["pod"].astype(str) != "")]
    counts = recent.groupby(["namespace", "workload"])["pod"].nunique()
    return {(str(ns), str(wl)): int(n) for (ns, wl), n in counts.items()}


def build_workloads(
    recs: list[Recommendation], specs: pd.DataFrame | None,
    running: dict[tuple[str, str], int] | None = None,
) -> list[WorkloadPods]:
    """One :class:`WorkloadPods` per (namespace, workload) in the specs or the recommendations.

    Replicas: the spec's ``replicas`` when known, else ``running`` (see :func:`running_pods`),
    else the number of distinct pods in the specs, else 1.

    Docker recommendations are left out: they are checked against their host, not packed.
    Without a spec row a workload runs one replica of the containers its recommendations name,
    with the current requests the recommendations carry."""
    by_key = {r.key: r for r in recs if r.platform != "docker"}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    if specs is not None and not specs.empty:
        # Plain records: iterating a DataFrame row by row costs seconds on 5,000 pods.
        by_workload: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for rec_row in specs.to_dict("records"):
            row = {str(k): v for k, v in rec_row.items()}
            by_workload.setdefault((str(row["namespace"]), str(row["workload"])), []).append(row)
        for wkey, rows in by_workload.items():
            kinds = [str(r["workload_kind"]) for r in rows
                     if isinstance(r.get("workload_kind"), str) and r["workload_kind"]]
            conts: dict[str, ContainerRequests] = {}
            for row in rows:  # later rows (newer) win
                init = str(row.get("init_container")).strip().lower() in ("true", "1", "1.0")
                name = str(row["container"])
                conts[name] = _container(
                    name, init, _cpu_m(row.get("cpu_request_cores")),
                    _cpu_m(row.get("cpu_limit_cores")), _mem_b(row.get("memory_request_bytes")),
                    _mem_b(row.get("memory_limit_bytes")),
                )
            groups[wkey] = {"kind": kinds[-1] if kinds else "",
                            "replicas": _replicas(rows, (running or {}).get(wkey)),
                            "containers": conts}
    for key, rec in by_key.items():
        wkey = (key.namespace, key.workload)
        g = groups.setdefault(wkey, {"kind": "", "replicas": (running or {}).get(wkey, 1),
                                     "containers": {}})
        g["containers"].setdefault(key.container, _from_current(rec))
    out = []
    for (ns, wl), g in sorted(groups.items()):
        cur = tuple(g["containers"][n] for n in sorted(g["containers"]))
        rec_c = tuple(_recommended(c, by_key.get(ContainerKey(ns, wl, c.name))) for c in cur)
        out.append(WorkloadPods(ns, wl, g["kind"], g["replicas"], cur, rec_c))
    return out
