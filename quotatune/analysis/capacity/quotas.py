"""Namespace ResourceQuota and LimitRange from the recommended requests.

ResourceQuota is checked each time a pod is created, so a namespace needs room for its pods
*plus* the extra pods a rolling update creates before it removes old ones: a Deployment's
``maxSurge`` (default 25 % of its replicas, rounded up, as Kubernetes rounds it).  DaemonSets
(default maxSurge 0), StatefulSets and Jobs do not surge.  Every Deployment is assumed to roll
at the same time (one ``helm upgrade`` of the namespace does that), which is the safe sum.

The LimitRange gives containers that declare nothing the namespace's typical (median)
recommendation, and caps at the largest recommendation.  CPU limits are only defaulted or
capped where the recommendations set CPU limits at all: a LimitRange ``max.cpu`` or
``default.cpu`` would put a CPU limit on every container, which is the throttling the
recommendations deliberately avoid.
"""

from __future__ import annotations

import math

from quotatune.analysis.capacity.pods import ContainerRequests, WorkloadPods
from quotatune.model.capacity import NamespaceQuota
from quotatune.model.units import (
    bytes_to_mib_ceil,
    cpu_quantity_to_millicores,
    format_cpu,
    format_memory_mib,
    memory_quantity_to_bytes,
)

NO_SURGE_KINDS = {"daemonset", "statefulset", "job", "cronjob"}


def surge_pods(w: WorkloadPods, max_surge: float | int) -> int:
    """Extra pods while ``w`` rolls: ceil(fraction x replicas) or an absolute count."""
    if w.kind.lower() in NO_SURGE_KINDS:
        return 0
    if isinstance(max_surge, float):
        return math.ceil(round(max_surge * w.replicas, 9))
    return int(max_surge)


def _median_up(values: list[int]) -> int:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else -(-(s[mid - 1] + s[mid]) // 2)


def _limit_range(cs: list[ContainerRequests]) -> dict[str, dict[str, str]]:
    lr: dict[str, dict[str, str]] = {"default": {}, "defaultRequest": {}, "max": {}}
    cpu_req = [c.cpu_request for c in cs if c.cpu_request > 0]
    mem_req = [c.memory_request for c in cs if c.memory_request > 0]
    cpu_lim = [c.cpu_limit for c in cs if c.cpu_limit is not None]
    mem_lim = [c.memory_limit for c in cs if c.memory_limit is not None]
    cpu_default = _median_up(cpu_lim) if cpu_lim else None
    mem_default = _median_up(mem_lim) if mem_lim else None
    if cpu_req:  # LimitRange requires defaultRequest <= default
        v = _median_up(cpu_req)
        lr["defaultRequest"]["cpu"] = format_cpu(min(v, cpu_default or v))
    if mem_req:
        v = _median_up(mem_req)
        lr["defaultRequest"]["memory"] = _mem(min(v, mem_default or v))
    if cpu_default is not None:
        lr["default"]["cpu"] = format_cpu(cpu_default)
        lr["max"]["cpu"] = format_cpu(max(cpu_lim))
    if mem_default is not None:
        lr["default"]["memory"] = _mem(mem_default)
        lr["max"]["memory"] = _mem(max(mem_lim))
    return {k: v for k, v in lr.items() if v}


def _mem(nbytes: int) -> str:
    return format_memory_mib(bytes_to_mib_ceil(nbytes))


def _pod_total(cs: tuple[ContainerRequests, ...], attr: str, default: int | None,
               *, zero_is_unset: bool = False) -> int | None:
    """What one pod counts against the quota once the LimitRange ``default`` fills the
    containers that declare nothing; None when some container would still have no value."""
    vals = []
    for c in cs:
        v = getattr(c, attr)
        vals.append(default if v is None or (zero_is_unset and v == 0) else v)
    if any(v is None for v in vals):
        return None
    app = sum(v for c, v in zip(cs, vals, strict=True) if not c.init and v is not None)
    init = max((v for c, v in zip(cs, vals, strict=True) if c.init and v is not None), default=0)
    return max(app, init)


def namespace_quotas(
    workloads: list[WorkloadPods], *, daemon_pods: int, max_surge: float | int = 0.25
) -> list[NamespaceQuota]:
    """One quota per namespace under the recommended requests; ``daemon_pods`` is how many
    pods each DaemonSet runs (the node count)."""
    by_ns: dict[str, list[WorkloadPods]] = {}
    for w in workloads:
        by_ns.setdefault(w.namespace, []).append(w)
    out = []
    for ns, ws in sorted(by_ns.items()):
        containers = [c for w in ws for c in w.recommended]
        lr = _limit_range(containers)
        # A quota on a resource makes every new pod declare it: only constrain what the
        # LimitRange can fill in for containers that declare nothing.
        totals: dict[tuple[str, str], int | None] = {}
        for kind, attr in (("defaultRequest", "cpu_request"), ("defaultRequest", "memory_request"),
                           ("default", "cpu_limit"), ("default", "memory_limit")):
            res = attr.split("_")[0]
            d = _parse(lr, kind, res)
            total: int | None = 0 if d is not None or kind == "default" else None
            for w in ws:
                if total is None:
                    break
                n = (daemon_pods if w.is_daemonset else w.replicas) + surge_pods(w, max_surge)
                per_pod = _pod_total(w.recommended, attr, d, zero_is_unset=kind != "default")
                total = None if per_pod is None else total + n * per_pod
            totals[(kind, res)] = total
        pods = sum((daemon_pods if w.is_daemonset else w.replicas) + surge_pods(w, max_surge)
                   for w in ws)
        surge = sum(surge_pods(w, max_surge) for w in ws)
        defaults = lr.get("defaultRequest", {})
        defaulted = sum(1 for c in containers
                        if ("cpu" in defaults and c.cpu_request == 0)
                        or ("memory" in defaults and c.memory_request == 0))
        out.append(NamespaceQuota(
            ns, pods, surge, totals[("defaultRequest", "cpu")],
            totals[("defaultRequest", "memory")], totals[("default", "cpu")],
            totals[("default", "memory")], lr, defaulted,
        ))
    return out


def _parse(lr: dict[str, dict[str, str]], kind: str, resource: str) -> int | None:
    text = lr.get(kind, {}).get(resource)
    if text is None:
        return None
    return cpu_quantity_to_millicores(text) if resource == "cpu" else memory_quantity_to_bytes(text)


def quotas_yaml(quotas: list[NamespaceQuota], max_surge: float | int = 0.25) -> str:
    """Multi-document YAML for ``kubectl apply -f -``."""
    import yaml

    surge = f"{max_surge * 100:g}%" if isinstance(max_surge, float) else f"{max_surge} pod(s)"
    parts = []
    for q in quotas:
        head = (
            f"# namespace {q.namespace}: recommended requests x replicas, plus {q.surge_pods} "
            f"rolling-update surge pod(s) (maxSurge {surge}).\n"
            "# Apply after the recommended requests are rolled out: the old pods still hold\n"
            "# their current requests while the rollout runs.\n"
        )
        if q.defaulted:
            head += (f"# {q.defaulted} container(s) declare no request: the LimitRange gives "
                     "them its defaultRequest, and the quota counts it.\n")
        parts.append(head + yaml.safe_dump_all(q.manifests(), sort_keys=False,
                                               explicit_start=False))
    return "---\n".join(parts) if parts else "# no namespaces to plan\n"
