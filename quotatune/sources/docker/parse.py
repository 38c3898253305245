"""Pure parsers for Docker Engine API payloads: ``/containers/{id}/stats``,
``/containers/{id}/json`` and ``/containers/{id}/logs?timestamps=1``.

No I/O here: :mod:`.collector` fetches, these functions turn one payload into plain
values.  Anything malformed raises :class:`InputError` with one line naming the field, so a
garbled payload is reported for that container and the round goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from quotatune.model.errors import InputError
from quotatune.model.nametext import name_fault
from quotatune.model.redact import redact, redact_args, redact_lines
from quotatune.sources import envscan
from quotatune.sources.docker.fields import num as _num
from quotatune.sources.docker.fields import obj as _obj
from quotatune.sources.docker.fields import parse_time
from quotatune.sources.docker.fields import string as _str
from quotatune.sources.docker.fields import strings as _strs

__all__ = ["InspectInfo", "parse_docker_stats", "parse_inspect", "parse_log_lines", "parse_time"]

STANDALONE_NAMESPACE = "docker"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
MAX_LOG_LINE = 2000  # characters kept per log line: enough for any failure message
_DEFAULT_CFS_PERIOD_US = 100_000  # what the kernel uses when CpuPeriod is 0 (unset)
_SHARES_PER_CORE = 1024  # the Kubernetes convention kubelet uses for cpu.shares


# --------------------------------------------------------------------------------- stats
def parse_docker_stats(stats: Any, prev: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One ``/containers/{id}/stats`` payload as plain values, with the CPU rate in cores.

    The rate needs two readings of the cumulative CPU counter: ``prev`` (an earlier result of
    this function for the same container) when given, else the payload's own ``precpu_stats``
    (filled by dockerd when not asked for a one-shot).  No usable pair - first reading, a
    counter that went backwards (the container restarted: its cgroup was recreated), time not
    moving forward - gives ``cpu_cores`` None and says why in ``cpu_note``.
    Working set = usage - inactive file cache, as ``docker stats`` and the kubelet compute it:
    cgroup v1 reports ``total_inactive_file`` (hierarchical), v2 ``inactive_file``.
    """
    what = "docker stats"
    if not isinstance(stats, Mapping):
        raise InputError(f"{what}: expected a JSON object, got {type(stats).__name__}")
    read = parse_time(stats.get("read"), what, "read")
    if read is None:
        raise InputError(f"{what}: no 'read' time in the payload")
    cpu_total = _num(stats, "cpu_stats.cpu_usage.total_usage", what)
    mem_stats = _obj(_obj(stats.get("memory_stats"), what, "memory_stats").get("stats"), what,
                     "memory_stats.stats")
    usage = _num(stats, "memory_stats.usage", what)
    inactive = _num(mem_stats, "total_inactive_file", what, "memory_stats.stats")
    if inactive is None:
        inactive = _num(mem_stats, "inactive_file", what, "memory_stats.stats")
    working_set = None if usage is None else max(float(usage) - float(inactive or 0), 0.0)
    out: dict[str, Any] = {
        "id": _str(stats.get("id"), what, "id"),
        "name": _str(stats.get("name"), what, "name").lstrip("/"),
        "read": read,
        "cpu_total_ns": cpu_total,
        "throttled_periods": _num(stats, "cpu_stats.throttling_data.throttled_periods", what),
        "periods": _num(stats, "cpu_stats.throttling_data.periods", what),
        "online_cpus": _num(stats, "cpu_stats.online_cpus", what),
        "memory_usage_bytes": None if usage is None else float(usage),
        "memory_inactive_file_bytes": None if inactive is None else float(inactive),
        "memory_working_set_bytes": working_set,
        "memory_limit_bytes": _num(stats, "memory_stats.limit", what),
        "cpu_cores": None,
        "cpu_throttled_ratio": None,
        "cpu_note": "",
        "counter_reset": False,
    }
    if prev is None:
        prev = _precpu(stats, what)
    elif prev.get("id") and out["id"] and prev.get("id") != out["id"]:
        prev = None  # another container: never difference two different counters
    _rate(out, prev)
    return out


def _precpu(stats: Mapping[str, Any], what: str) -> dict[str, Any] | None:
    pre_read = parse_time(stats.get("preread"), what, "preread")
    pre_total = _num(stats, "precpu_stats.cpu_usage.total_usage", what)
    if pre_read is None or not pre_total:
        return None  # one-shot reading: dockerd sends zeros here
    return {
        "read": pre_read,
        "cpu_total_ns": pre_total,
        "throttled_periods": _num(stats, "precpu_stats.throttling_data.throttled_periods", what),
        "periods": _num(stats, "precpu_stats.throttling_data.periods", what),
    }


def _rate(out: dict[str, Any], prev: Mapping[str, Any] | None) -> None:
    if out["cpu_total_ns"] is None:
        out["cpu_note"] = "no CPU counter (container not running)"
        return
    if prev is None or prev.get("cpu_total_ns") is None or prev.get("read") is None:
        out["cpu_note"] = "first reading"
        return
    dt = (out["read"] - prev["read"]).total_seconds()
    if dt <= 0:
        out["cpu_note"] = "reading not later than the previous one"
        return
    used = float(out["cpu_total_ns"]) - float(prev["cpu_total_ns"])
    if used < 0:
        out["counter_reset"] = True
        out["cpu_note"] = "CPU counter went backwards (container restarted)"
        return
    out["cpu_cores"] = used / 1e9 / dt
    periods, throttled = out["periods"], out["throttled_periods"]
    p_periods, p_throttled = prev.get("periods"), prev.get("throttled_periods")
    if None not in (periods, throttled, p_periods, p_throttled):
        d_periods = float(periods) - float(p_periods)  # type: ignore[arg-type]
        d_throttled = float(throttled) - float(p_throttled)  # type: ignore[arg-type]
        # A share of the periods between the two readings: none without periods (no CPU
        # limit), and none when a counter went backwards (the cgroup was recreated) or the
        # two disagree, rather than a negative share or one above 1.
        if d_periods > 0 and 0 <= d_throttled <= d_periods:
            out["cpu_throttled_ratio"] = d_throttled / d_periods


# --------------------------------------------------------------------------------- inspect
@dataclass(frozen=True)
class InspectInfo:
    """What one ``/containers/{id}/json`` says about sizing, identity and the last exit."""

    id: str
    name: str
    namespace: str
    workload: str
    container: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env_names: tuple[str, ...]
    jvm_options: tuple[str, ...]
    non_ascii_env: tuple[str, ...]
    cpu_limit_cores: float | None
    cpu_request_cores: float | None  # from CpuShares, only when set explicitly
    cpu_shares: int | None
    memory_limit_bytes: float | None
    memory_request_bytes: float | None  # MemoryReservation (the soft limit)
    restarts: int
    status: str
    running: bool
    pid: int
    oom_killed: bool
    exit_code: int | None
    error: str
    started_at: pd.Timestamp | None
    finished_at: pd.Timestamp | None

    @property
    def pod(self) -> str:
        """The container instance: compose replicas ("shop-web-1", "shop-web-2") differ here."""
        return self.name


def parse_inspect(inspect: Any) -> InspectInfo:
    """Identity, limits, restart count, command and last exit of one container.

    Compose containers map to namespace = project, workload = container = service (so the
    replicas of a service share one recommendation); standalone containers to namespace
    ``docker``, workload = container = container name.  Environment values are dropped here:
    only names, JVM flags and names of non-ASCII variables are kept (``envscan.scan``).
    """
    if not isinstance(inspect, Mapping):
        raise InputError(f"docker inspect: expected a JSON object, got {type(inspect).__name__}")
    cid = _str(inspect.get("Id"), "docker inspect", "Id")
    if not cid:
        raise InputError("docker inspect: no container Id in the payload")
    what = f"docker inspect {cid[:12]}"
    name = _str(inspect.get("Name"), what, "Name").lstrip("/")
    if not name or name_fault(name, "container"):  # the daemon allows neither
        name = cid[:12]
    config = _obj(inspect.get("Config"), what, "Config")
    host = _obj(inspect.get("HostConfig"), what, "HostConfig")
    state = _obj(inspect.get("State"), what, "State")
    labels = _obj(config.get("Labels"), what, "Config.Labels")
    project = labels.get(COMPOSE_PROJECT)
    service = labels.get(COMPOSE_SERVICE)
    # Compose writes only names a cluster would take, but a label set by hand can hold
    # anything: a project or service no name may be (a '/', a bidi override) leaves the
    # container standalone, under the name the daemon checked.
    if isinstance(project, str) and project and isinstance(service, str) and service \
            and not name_fault(project, "namespace") and not name_fault(service, "workload"):
        namespace, workload = project, service
    else:
        namespace, workload = STANDALONE_NAMESPACE, name
    command = _strs(config.get("Entrypoint"), what, "Config.Entrypoint")
    args = _strs(config.get("Cmd"), what, "Config.Cmd")
    env = _strs(config.get("Env"), what, "Config.Env", one_string_ok=False)
    scan = envscan.scan(command, args, envscan.parse_env_list(env))
    code = state.get("ExitCode")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
        raise InputError(f"{what}: State.ExitCode is not an integer: {str(code)[:40]!r}")
    restarts = _num(inspect, "RestartCount", what)
    pid = _num(state, "Pid", what, "State")
    return InspectInfo(
        id=cid,
        name=name,
        namespace=namespace,
        workload=workload,
        container=workload,
        image=_str(config.get("Image"), what, "Config.Image"),
        command=redact_args(command),  # --api-token=… must not reach the store
        args=redact_args(args),
        env_names=scan.env_names,
        jvm_options=scan.jvm_options,
        non_ascii_env=scan.non_ascii_env,
        cpu_limit_cores=_cpu_limit(host, what),
        cpu_request_cores=_cpu_request(host, what),
        cpu_shares=_int_or_none(_num(host, "CpuShares", what, "HostConfig")),
        memory_limit_bytes=_positive(_num(host, "Memory", what, "HostConfig")),
        memory_request_bytes=_positive(_num(host, "MemoryReservation", what, "HostConfig")),
        restarts=int(restarts or 0),
        status=_str(state.get("Status"), what, "State.Status"),
        running=state.get("Running") is True,
        pid=int(pid or 0),
        oom_killed=state.get("OOMKilled") is True,
        exit_code=code,
        error=redact(_str(state.get("Error"), what, "State.Error")),
        started_at=parse_time(state.get("StartedAt"), what, "State.StartedAt"),
        finished_at=parse_time(state.get("FinishedAt"), what, "State.FinishedAt"),
    )


def _positive(v: int | float | None) -> float | None:
    return float(v) if v else None  # Docker writes 0 for "no limit"


def _int_or_none(v: int | float | None) -> int | None:
    return int(v) if v else None


def _cpu_limit(host: Mapping[str, Any], what: str) -> float | None:
    # --cpus sets NanoCpus; --cpu-quota/--cpu-period set the CFS pair.  Docker refuses both at
    # once, so at most one is non-zero.
    nano = _num(host, "NanoCpus", what, "HostConfig")
    if nano:
        return nano / 1e9
    quota = host.get("CpuQuota")
    if isinstance(quota, int) and not isinstance(quota, bool) and quota > 0:
        period = _num(host, "CpuPeriod", what, "HostConfig") or _DEFAULT_CFS_PERIOD_US
        return quota / period
    return None


def _cpu_request(host: Mapping[str, Any], what: str) -> float | None:
    shares = _num(host, "CpuShares", what, "HostConfig")
    return shares / _SHARES_PER_CORE if shares else None


# --------------------------------------------------------------------------------- logs
def parse_log_lines(raw: Any, limit: int | None = None) -> list[tuple[pd.Timestamp | None, str]]:
    """``docker logs --timestamps`` output as (time, text) pairs, the last ``limit`` lines.

    Each line starts with an RFC 3339 time and a space; a line without one (a TTY container,
    a payload cut mid-line) keeps its text and gets no time.  Bytes that are not UTF-8 are
    replaced, and very long lines are cut, so a hostile log cannot blow up a frame.
    """
    if isinstance(raw, bytes | bytearray):
        text = bytes(raw).decode("utf-8", "replace")
    elif isinstance(raw, str):
        text = raw
    else:
        raise InputError(f"docker logs: expected bytes or text, got {type(raw).__name__}")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    lines = [ln for ln in lines if ln.strip()]
    if limit is not None:
        lines = lines[-limit:] if limit > 0 else []
    out: list[tuple[pd.Timestamp | None, str]] = []
    for line in lines:
        stamp, sep, rest = line.partition(" ")
        t: pd.Timestamp | None = None
        if sep and stamp[:1].isdigit() and "T" in stamp:
            try:
                t = parse_time(stamp, "docker logs", "timestamp")
            except InputError:
                t = None
        if t is None:
            rest = line
        out.append((t, rest))
    # Redacted as consecutive lines (a private key block spans several), then cut: a cut
    # first could leave a token too short to recognise.
    texts = redact_lines(text for _, text in out)
    return [(t, text[:MAX_LOG_LINE]) for (t, _), text in zip(out, texts, strict=True)]
