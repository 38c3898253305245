"""Read a container's counters straight from its cgroup files, when the collector runs on the
Docker host.

Why: dockerd samples stats on a 1 s tick, so every ``/containers/{id}/stats`` call waits for
the next tick; the cgroup files that dockerd itself reads answer in microseconds.  The
reading is returned in the shape of an Engine stats payload, so one parser
(:func:`quotatune.sources.docker.parse.parse_docker_stats`) handles both sources.

Where the files are is found from ``/proc/<pid>/cgroup`` of the container's main process, and
only trusted when that path names the container's full id: a collector in another PID
namespace, or talking to a remote daemon, sees an unrelated (or no) process under that pid and
falls back to the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CgroupFiles:
    version: int  # 1 or 2
    cpu_usage: Path  # v1 cpuacct.usage (ns); v2 cpu.stat (usage_usec)
    cpu_stat: Path | None  # throttling counters (v1 cpu.stat; v2 the same cpu.stat)
    memory_usage: Path  # v1 memory.usage_in_bytes; v2 memory.current
    memory_stat: Path


def find_cgroup(
    pid: int, container_id: str, *, proc_root: Path = Path("/proc"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
) -> CgroupFiles | None:
    """The container's cgroup files, or None when they cannot be trusted or found."""
    if pid <= 0 or not container_id:
        return None
    try:
        text = (proc_root / str(pid) / "cgroup").read_text()
    except OSError:
        return None
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = path
        for c in controllers.split(","):
            v1[c] = path
    if "cpuacct" in v1 and "memory" in v1:
        return _v1(v1, container_id, cgroup_root)
    if v2 is not None and (cgroup_root / "cgroup.controllers").exists():
        return _v2(v2, container_id, cgroup_root)
    return None


def _v1(paths: dict[str, str], cid: str, root: Path) -> CgroupFiles | None:
    if cid not in paths["cpuacct"] or cid not in paths["memory"]:
        return None
    cpuacct = _controller_dir(root, "cpuacct", paths["cpuacct"])
    memory = _controller_dir(root, "memory", paths["memory"])
    cpu = _controller_dir(root, "cpu", paths.get("cpu", paths["cpuacct"]))
    if cpuacct is None or memory is None:
        return None
    files = CgroupFiles(
        version=1,
        cpu_usage=cpuacct / "cpuacct.usage",
        cpu_stat=(cpu / "cpu.stat") if cpu is not None else None,
        memory_usage=memory / "memory.usage_in_bytes",
        memory_stat=memory / "memory.stat",
    )
    return files if files.cpu_usage.exists() and files.memory_usage.exists() else None


def _controller_dir(root: Path, controller: str, rel: str) -> Path | None:
    # Hierarchies are mounted per controller ("memory") or co-mounted ("cpu,cpuacct", with
    # "cpuacct" usually a symlink to it); try the usual names.
    rel = rel.lstrip("/")
    candidates = [root / controller]
    if controller in ("cpu", "cpuacct"):
        candidates += [root / "cpu,cpuacct", root / "cpuacct,cpu"]
    for base in candidates:
        d = base / rel
        if d.is_dir():
            return d
    return None


def _v2(rel: str, cid: str, root: Path) -> CgroupFiles | None:
    if cid not in rel:
        return None
    d = root / rel.lstrip("/")
    files = CgroupFiles(
        version=2,
        cpu_usage=d / "cpu.stat",
        cpu_stat=d / "cpu.stat",
        memory_usage=d / "memory.current",
        memory_stat=d / "memory.stat",
    )
    return files if files.cpu_usage.exists() and files.memory_usage.exists() else None


# Where dockerd puts a container's cgroup, relative to a hierarchy: the cgroupfs driver, the
# systemd driver.  A custom --cgroup-parent is learned from the first container found by pid.
DEFAULT_LAYOUTS = ("docker/{id}", "system.slice/docker-{id}.scope")


def layout_of(files: CgroupFiles, container_id: str, cgroup_root: Path) -> str | None:
    """The relative-path template ("docker/{id}") of a cgroup found by pid, to find the
    other containers' cgroups by id alone."""
    rel = str(files.memory_stat.parent)
    for base in sorted(cgroup_root.iterdir() if files.version == 1 else [cgroup_root],
                       key=lambda p: -len(str(p))):
        prefix = str(base) + "/"
        if rel.startswith(prefix) and container_id in rel:
            return rel[len(prefix):].replace(container_id, "{id}")
    return None


def find_cgroup_by_id(container_id: str, layouts: tuple[str, ...], *,
                      cgroup_root: Path = Path("/sys/fs/cgroup")) -> CgroupFiles | None:
    """The container's cgroup files from its id alone (no inspect needed), trying each
    layout; None when none exists (then :func:`find_cgroup` with the pid is the way)."""
    if not container_id or "/" in container_id or container_id.startswith("."):
        return None
    v2 = (cgroup_root / "cgroup.controllers").exists()
    for layout in layouts:
        rel = layout.format(id=container_id)
        if v2:
            found = _v2(rel, container_id, cgroup_root)
        else:
            found = _v1({"cpuacct": rel, "memory": rel, "cpu": rel}, container_id, cgroup_root)
        if found is not None:
            return found
    return None


def _keyed(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def read_cgroup_stats(files: CgroupFiles, container_id: str, name: str,
                      now: float) -> dict[str, Any]:
    """One reading as an Engine-stats-shaped payload; ``now`` is epoch seconds.

    Raises OSError when the files are gone (the container stopped or was removed).
    """
    if files.version == 1:
        total_ns = int(files.cpu_usage.read_text().strip())
    else:
        total_ns = _keyed(files.cpu_usage)["usage_usec"] * 1000
    throttling: dict[str, int] = {}
    if files.cpu_stat is not None:
        try:
            st = _keyed(files.cpu_stat)
            throttling = {"periods": st.get("nr_periods", 0),
                          "throttled_periods": st.get("nr_throttled", 0)}
        except OSError:
            throttling = {}  # the cpu controller is optional; usage and memory are not
    usage = int(files.memory_usage.read_text().strip())
    mem_stat = _keyed(files.memory_stat)
    read = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "read": read,
        "id": container_id,
        "name": "/" + name,
        "cpu_stats": {"cpu_usage": {"total_usage": total_ns}, "throttling_data": throttling},
        "memory_stats": {"usage": usage, "stats": mem_stat},
    }
