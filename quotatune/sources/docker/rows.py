"""Frame rows for the Docker collector, and the tally of what a collection missed.

Kept apart from the transport (:mod:`quotatune.sources.docker.collector`) so both stay small; pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quotatune import model
from quotatune.model.errors import InputError
from quotatune.model.redact import redact
from quotatune.sources.docker.parse import InspectInfo, parse_log_lines

MAX_MESSAGE = 500


def usage_row(info: InspectInfo, reading: dict[str, Any], node: str) -> dict[str, Any]:
    return {
        "timestamp": reading["read"],
        "namespace": info.namespace,
        "workload": info.workload,
        "pod": info.pod,
        "container": info.container,
        "cpu_cores": reading["cpu_cores"],
        "memory_working_set_bytes": reading["memory_working_set_bytes"],
        "cpu_request_cores": info.cpu_request_cores,
        "cpu_limit_cores": info.cpu_limit_cores,
        "memory_request_bytes": info.memory_request_bytes,
        "memory_limit_bytes": info.memory_limit_bytes,
        "restarts": float(info.restarts),
        "cpu_throttled_ratio": reading["cpu_throttled_ratio"],
        "workload_kind": "compose-service" if info.namespace != "docker" else "container",
        "node": node,
        "platform": "docker",
    }


USAGE_FLOATS = ("cpu_cores", "memory_working_set_bytes", "cpu_request_cores", "cpu_limit_cores",
                "memory_request_bytes", "memory_limit_bytes", "restarts", "cpu_throttled_ratio")


def usage_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows from :func:`usage_row` as a usage frame with the dtypes ``model.validate_usage``
    gives (a test checks they agree).  Built column by column: the rows are typed by
    construction, and re-validating them costs more than the whole round's file reads."""
    cols: dict[str, Any] = {}
    for name in rows[0]:
        values = [r[name] for r in rows]
        if name == "timestamp":
            cols[name] = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
        elif name in USAGE_FLOATS:
            cols[name] = np.array([np.nan if v is None else v for v in values], dtype="float64")
        else:
            cols[name] = pd.array(values, dtype="str")
    return pd.DataFrame(cols)


def spec_row(info: InspectInfo, node: str, source: str) -> dict[str, Any]:
    return {
        "namespace": info.namespace,
        "workload": info.workload,
        "workload_kind": "compose-service" if info.namespace != "docker" else "container",
        "pod": info.pod,
        "container": info.container,
        "node": node,
        "image": info.image,
        "command": info.command,
        "args": info.args,
        "env_names": info.env_names,
        "jvm_options": info.jvm_options,
        "non_ascii_env": info.non_ascii_env,
        "cpu_request_cores": info.cpu_request_cores,
        "cpu_limit_cores": info.cpu_limit_cores,
        "memory_request_bytes": info.memory_request_bytes,
        "memory_limit_bytes": info.memory_limit_bytes,
        "replicas": None,
        "restarts": float(info.restarts),
        "init_container": False,
        "phase": info.status,
        "waiting_reason": "",
        "source": source,
    }


def event_rows(info: InspectInfo, raw_logs: bytes, log_tail: int, source: str) -> pd.DataFrame:
    """The termination of an exited container, then its last log lines (kind "log")."""
    key = {"namespace": info.namespace, "workload": info.workload, "pod": info.pod,
           "container": info.container, "source": source}
    if info.oom_killed:
        reason = "OOMKilled"
    elif info.exit_code:
        reason = "Error"
    else:
        reason = "Completed"
    rows: list[dict[str, Any]] = [{
        **key, "timestamp": info.finished_at, "kind": "termination", "reason": reason,
        "exit_code": info.exit_code, "oom_killed": info.oom_killed,
        "message": info.error[:MAX_MESSAGE],
    }]
    for at, text in parse_log_lines(raw_logs, log_tail):
        rows.append({
            **key, "timestamp": at if at is not None else info.finished_at, "kind": "log",
            "reason": "", "exit_code": None, "oom_killed": False, "message": text,
        })
    df = pd.DataFrame(rows, columns=model.EVENT_COLUMNS)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["exit_code"] = df["exit_code"].astype("Int64")
    df["oom_killed"] = df["oom_killed"].astype(bool)
    return df


@dataclass
class Tally:
    """What a collection read, skipped and missed; becomes ``Collected.errors``/``notes``."""

    vanished_names: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    daemon_failed: list[str] = field(default_factory=list)
    daemon_reason: str = ""
    no_rate: list[str] = field(default_factory=list)
    cgroup_reads: int = 0
    api_reads: int = 0
    counter_resets: int = 0
    restarts: int = 0
    exited: int = 0

    def vanished(self, name: str, why: str) -> None:
        self.vanished_names.append(f"{name} ({why})")

    def failed(self, name: str, step: str, exc: BaseException) -> None:
        kind = classify(exc)
        if kind == "vanished":
            self.vanished(name, f"gone before {step}")
        elif kind == "daemon":
            self.daemon_failed.append(name)
            self.daemon_reason = describe(exc)
        else:
            self.failures.append(f"container {name}: {step} failed: {describe(exc)}")

    def take_daemon_failures(self) -> list[str]:
        got, self.daemon_failed = self.daemon_failed, []
        return got

    def errors(self) -> list[str]:
        out = []
        if self.vanished_names:
            out.append(f"{len(self.vanished_names)} container(s) vanished before they were "
                       f"read: {', '.join(self.vanished_names[:10])}")
        return out + self.failures

    def notes(self) -> list[str]:
        out = [f"read {self.cgroup_reads} container reading(s) from cgroup files and "
               f"{self.api_reads} from the Engine stats API"]
        if self.counter_resets or self.restarts:
            out.append(f"{self.restarts} restart(s) and {self.counter_resets} CPU counter "
                       "reset(s) seen between readings: those readings start a new rate")
        if self.no_rate:
            out.append(f"{len(self.no_rate)} reading(s) without a CPU rate: "
                       f"{', '.join(self.no_rate[:10])}")
        if self.exited:
            out.append(f"inspected {self.exited} exited container(s)")
        return out


class DaemonGone(Exception):
    """The daemon stopped answering (connection refused, socket gone, permission denied)."""


def classify(exc: BaseException) -> str:
    """'vanished' (404/409: the container went away), 'daemon' (cannot talk to dockerd), or
    'error' (anything else, e.g. a garbled payload)."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (404, 409):
        return "vanished"
    if isinstance(exc, InputError):
        return "error"
    name = type(exc).__name__
    if isinstance(exc, OSError | DaemonGone) or name in (
        "ConnectionError", "ReadTimeout", "ConnectTimeout", "ChunkedEncodingError",
        "ProtocolError", "Timeout",
    ):
        return "daemon"
    if status is not None and status >= 500 and "no such container" in str(exc).lower():
        return "vanished"
    return "error"


def describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Permission denied" in str(exc) or isinstance(exc, PermissionError):
        return "permission denied on the Docker socket"
    if "FileNotFoundError" in str(exc) or "No such file" in str(exc):
        return "the Docker socket is gone"
    if "Connection refused" in str(exc):
        return "connection refused"
    return redact(text)[:200]
