"""Apply-ready output for Kubernetes: ``kubectl set resources`` commands and strategic-merge
patches, one per workload.

The workload kind comes from ``kinds`` ((namespace, workload) -> "Deployment", …), usually
built from the spec frame with :func:`kinds_from_specs`; unknown kinds are taken to be
Deployments.  Init containers must be named (``init_containers``) because a strategic-merge
patch keyed under ``containers`` would *add* a container rather than resize the init one.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import yaml

from quotatune.model import ContainerKey, Recommendation, units
from quotatune.model.nametext import name_fault, shown

# kubectl resource names; `kubectl set resources` handles every kind with a pod template
# except CronJob, which gets a patch instead.
_KUBECTL = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset",
            "ReplicaSet": "replicaset", "ReplicationController": "replicationcontroller",
            "Job": "job", "CronJob": "cronjob"}
_SET_RESOURCES = set(_KUBECTL) - {"CronJob"}


def kinds_from_specs(specs: Any) -> dict[tuple[str, str], str]:
    """(namespace, workload) -> workload kind, from a spec frame."""
    if specs is None or specs.empty or "workload_kind" not in specs.columns:
        return {}
    cols = specs[["namespace", "workload", "workload_kind"]].dropna().drop_duplicates()
    return {(ns, wl): kind for ns, wl, kind in cols.itertuples(index=False) if kind}


def init_containers_from_specs(specs: Any) -> set[ContainerKey]:
    if specs is None or specs.empty or "init_container" not in specs.columns:
        return set()
    rows = specs[specs["init_container"].fillna(False).astype(bool)]
    return {ContainerKey(n, w, c) for n, w, c in rows[["namespace", "workload", "container"]]
            .itertuples(index=False)}


def _resources(rec: Recommendation) -> tuple[dict[str, str], dict[str, str]]:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if rec.cpu_request_millicores is not None:
        requests["cpu"] = units.format_cpu(int(rec.cpu_request_millicores))
    if rec.memory_request_mib is not None:
        requests["memory"] = units.format_memory_mib(int(rec.memory_request_mib))
    if rec.cpu_limit_millicores is not None:
        limits["cpu"] = units.format_cpu(int(rec.cpu_limit_millicores))
    if rec.memory_limit_mib is not None:
        limits["memory"] = units.format_memory_mib(int(rec.memory_limit_mib))
    return requests, limits


def _applicable(recs: Iterable[Recommendation]) -> tuple[list[Recommendation], list[str]]:
    keep, skipped = [], []
    for r in recs:
        req, lim = _resources(r)
        if req or lim:
            keep.append(r)
        else:
            skipped.append(f"# {shown(str(r.key))}: nothing to set ({r.status})")
    return keep, skipped


def render_kubectl_patch(
    recs: Iterable[Recommendation], kinds: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """One ``kubectl set resources`` line per container (a comment where it cannot apply)."""
    keep, lines = _applicable(recs)
    kinds = kinds or {}
    for r in sorted(keep, key=lambda r: (r.namespace, r.workload, r.container)):
        kind = kinds.get((r.namespace, r.workload), "Deployment")
        if kind not in _SET_RESOURCES:
            how = ("not supported by kubectl set resources: apply its strategic-merge patch"
                   if kind == "CronJob"
                   else "a bare pod cannot be resized in place: change its manifest")
            # A newline in a name would end the comment: the rest would run under `| sh`.
            lines.append(shown(f"# {kind} {r.namespace}/{r.workload} container {r.container}: "
                               f"{how}"))
            continue
        if any(name_fault(n, c) for n, c in ((r.namespace, "namespace"),
                                            (r.workload, "workload"),
                                            (r.container, "container"))):
            # Quoted, it would stay one argument, but the line would still print it (an
            # escape sequence acts on the terminal); and no cluster holds such a name.
            lines.append(shown(f"# {kind} {r.namespace}/{r.workload} container "
                               f"{r.container}: skipped: not a name a cluster allows"))
            continue
        req, lim = _resources(r)
        cmd = ["kubectl", "set", "resources", f"{_KUBECTL[kind]}/{r.workload}",
               "-n", r.namespace, "-c", r.container]
        if req:
            cmd.append("--requests=" + ",".join(f"{k}={v}" for k, v in req.items()))
        if lim:
            cmd.append("--limits=" + ",".join(f"{k}={v}" for k, v in lim.items()))
        lines.append(" ".join(shlex.quote(part) for part in cmd))
    return "\n".join(lines) + ("\n" if lines else "")


def render_strategic_merge_patch(
    recs: Iterable[Recommendation], kinds: Mapping[tuple[str, str], str] | None = None,
    init_containers: Collection[ContainerKey] = (),
) -> str:
    """One YAML document per workload, headed by the ``kubectl patch`` command that applies it."""
    keep, _ = _applicable(recs)
    kinds = kinds or {}
    by_workload: dict[tuple[str, str], list[Recommendation]] = {}
    for r in keep:
        by_workload.setdefault((r.namespace, r.workload), []).append(r)
    docs: list[str] = []
    for (ns, wl), group in sorted(by_workload.items()):
        kind = kinds.get((ns, wl), "Deployment")
        pod_spec: dict[str, list[dict[str, Any]]] = {}
        for r in sorted(group, key=lambda r: r.container):
            req, lim = _resources(r)
            res: dict[str, Any] = {}
            if req:
                res["requests"] = req
            if lim:
                res["limits"] = lim
            field = "initContainers" if r.key in init_containers else "containers"
            pod_spec.setdefault(field, []).append({"name": r.container, "resources": res})
        template = {"template": {"spec": pod_spec}}
        body = ({"spec": {"jobTemplate": {"spec": template}}} if kind == "CronJob"
                else {"spec": pod_spec} if kind == "Pod" else {"spec": template})
        resource = _KUBECTL.get(kind, "pod" if kind == "Pod" else "deployment")
        # Comment lines: a newline in a name would end them (shlex.quote keeps it).
        header = "\n".join(shown(line) for line in (
            f"# {kind} {ns}/{wl}", f"# kubectl patch {resource} {shlex.quote(wl)} -n "
            f"{shlex.quote(ns)} --type strategic --patch-file <this document>")) + "\n"
        if kind == "Pod":
            header += "# (a running pod's resources can only change where in-place resize is on)\n"
        docs.append(header + yaml.safe_dump(body, sort_keys=False, default_flow_style=False))
    # Containers with nothing to set are listed once, by render_kubectl_patch, not here.
    return "---\n".join(docs)
