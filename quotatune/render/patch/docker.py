"""Apply-ready output for Docker targets: ``docker update`` commands and a compose override.

Mapping (the same one the collector reads back): CPU limit -> ``--cpus`` (NanoCpus); CPU
request -> ``--cpu-shares`` at 1024 shares per core (the Kubernetes convention); memory limit
-> ``--memory`` plus ``--memory-swap`` of the same size (no swap: the limit is where the
container is OOM-killed, and docker refuses a memory limit above an older swap limit); memory
request -> ``--memory-reservation`` (the soft limit).  Memory is printed in exact MiB
(docker's "m" is MiB), rounded up, as recommendations already are.

Standalone containers are addressed by name; a compose service (namespace = project) by its
labels, which covers every replica.  Every name is shell-quoted.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from typing import Any

import yaml

from quotatune.model import Recommendation, units
from quotatune.model.nametext import shown

STANDALONE = "docker"
_SHARES_PER_CORE = 1024
# What docker accepts as a container name and compose as project/service names: anything
# else cannot name a real container, and is not put on a command line at all.
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def _docker_flags(r: Recommendation) -> list[str]:
    flags: list[str] = []
    if r.cpu_limit_millicores is not None:
        flags.append(f"--cpus {units.format_cores(r.cpu_limit_millicores)}")
    if r.cpu_request_millicores is not None:
        shares = max(2, -(-r.cpu_request_millicores * _SHARES_PER_CORE // 1000))  # kernel min 2
        flags.append(f"--cpu-shares {shares}")
    if r.memory_limit_mib is not None:
        flags.append(f"--memory {r.memory_limit_mib}m --memory-swap {r.memory_limit_mib}m")
    if r.memory_request_mib is not None:
        reservation = r.memory_request_mib
        if r.memory_limit_mib is not None:
            reservation = min(reservation, r.memory_limit_mib)  # docker rejects reservation > limit
        flags.append(f"--memory-reservation {reservation}m")
    return flags


def _target(r: Recommendation) -> str:
    if r.namespace == STANDALONE:
        return shlex.quote(r.container)
    project = shlex.quote(f"label=com.docker.compose.project={r.namespace}")
    service = shlex.quote(f"label=com.docker.compose.service={r.workload}")
    return f"$(docker ps -q --filter {project} --filter {service})"


def _summary(r: Recommendation) -> str:
    def cpu(m: int | None) -> str:
        return "-" if m is None else units.format_cpu(m)

    def mem(m: int | None) -> str:
        return "-" if m is None else units.format_memory_mib(m)

    c = r.current
    return (
        f"cpu request {cpu(c.cpu_request_millicores)} -> {cpu(r.cpu_request_millicores)}, "
        f"limit {cpu(c.cpu_limit_millicores)} -> {cpu(r.cpu_limit_millicores)}; "
        f"memory request {mem(c.memory_request_mib)} -> {mem(r.memory_request_mib)}, "
        f"limit {mem(c.memory_limit_mib)} -> {mem(r.memory_limit_mib)}"
    )


def _comment(text: str) -> str:
    # Names come from container labels: keep a crafted one from breaking out of the comment.
    return "# " + shown(" ".join(text.split()))


def render_docker_patch(recs: list[Recommendation]) -> str:
    """One ``docker update`` per container (standalone) or compose service (all replicas)."""
    lines = ["# docker update commands from quotatune (run on the Docker host)"]
    for r in sorted(recs, key=lambda r: (r.namespace, r.workload, r.container)):
        who = (r.container if r.namespace == STANDALONE
               else f"compose project {r.namespace}, service {r.workload} (all replicas)")
        lines.append(_comment(f"{who}: {_summary(r)} [{r.strategy}, {r.confidence}]"))
        flags = _docker_flags(r)
        names = (r.container,) if r.namespace == STANDALONE else (r.namespace, r.workload)
        if not all(_NAME.match(n) for n in names):
            lines.append(_comment("skipped: not a valid docker/compose name"))
            continue
        if not flags:
            lines.append(_comment("nothing to change"))
            continue
        lines.append(f"docker update {' '.join(flags)} {_target(r)}")
    return "\n".join(lines) + "\n"


def render_compose_override(recs: list[Recommendation]) -> str:
    """A ``docker compose -f compose.yaml -f override.yaml`` file per compose project
    (several projects give several YAML documents); standalone containers are listed in a
    comment, since no compose file knows them."""
    by_project: dict[str, dict[str, Any]] = defaultdict(dict)
    standalone = []
    for r in sorted(recs, key=lambda r: (r.namespace, r.workload)):
        if r.namespace == STANDALONE:
            standalone.append(r.container)
            continue
        res: dict[str, dict[str, str]] = {}
        if r.cpu_limit_millicores is not None:
            res.setdefault("limits", {})["cpus"] = units.format_cores(r.cpu_limit_millicores)
        if r.memory_limit_mib is not None:
            res.setdefault("limits", {})["memory"] = f"{r.memory_limit_mib}M"
        if r.cpu_request_millicores is not None:
            res.setdefault("reservations", {})["cpus"] = units.format_cores(
                r.cpu_request_millicores)
        if r.memory_request_mib is not None:
            res.setdefault("reservations", {})["memory"] = f"{r.memory_request_mib}M"
        if res:
            by_project[r.namespace][r.workload] = {"deploy": {"resources": res}}
    head = []
    if standalone:
        head.append(_comment("not in a compose project (use docker update): "
                             + ", ".join(standalone)))
    docs = []
    for project, services in sorted(by_project.items()):
        title = _comment(f"compose project {project}: docker compose -f compose.yaml "
                        "-f this-file.yaml up -d")
        body = yaml.safe_dump({"services": services}, sort_keys=True, default_flow_style=False)
        docs.append(f"{title}\n{body}")
    if not docs:
        head.append(_comment("no compose services"))
    return "".join(line + "\n" for line in head) + "---\n".join(docs)
