"""The ``hs-err`` importer: a HotSpot ``hs_err_pid<N>.log`` as log events and a spec row.

The file knows nothing of Kubernetes or Docker, so it lands under namespace ``jvm``, workload
= the file's name without ``.log``, container ``java``.  Its headline lines become log events
(reason ``hs_err``), the JVM version and cgroup facts become ``hs_err-info`` events (evidence),
and its memory flags and cgroup memory limit a spec row, so that the JVM findings can say what
to change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.model.frames import HS_ERR_INFO
from quotatune.model.redact import redact, redact_args, redact_lines
from quotatune.model.units import mib_text as mi
from quotatune.sources.files.hs_err_parse import HsErr, parse_hs_err
from quotatune.sources.text import open_text

NAMESPACE = "jvm"
CONTAINER = "java"


def read_hs_err(path: Path) -> Collected:
    report = parse_hs_err(open_text(path), str(path))
    workload = path.name[:-4] if path.name.endswith(".log") else path.name
    base: dict[str, Any] = {"namespace": NAMESPACE, "workload": workload, "pod": "",
                            "container": CONTAINER, "timestamp": report.time or pd.NaT,
                            "exit_code": None, "oom_killed": False,
                            "source": f"hs_err:{path.name}"}
    # A crash log quotes the command line and the environment: redacted before a frame.
    rows = [{**base, "kind": "log", "reason": "hs_err", "message": line}
            for line in redact_lines(report.headline)]
    rows += [{**base, "kind": "log", "reason": HS_ERR_INFO, "message": redact(text)}
             for text in _facts(report)]
    events = pd.DataFrame(rows, columns=model.EVENT_COLUMNS)
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    events["exit_code"] = events["exit_code"].astype("Int64")
    spec: dict[str, Any] = {c: None for c in model.SPEC_COLUMNS}
    spec.update(namespace=NAMESPACE, workload=workload, pod="", container=CONTAINER,
                jvm_options=redact_args(report.jvm_options),
                memory_limit_bytes=report.memory_limit_bytes,
                env_names=(), non_ascii_env=(), command=(), args=(), source="hs_err")
    specs = pd.DataFrame([spec], columns=model.SPEC_COLUMNS)
    return Collected(events=events, specs=specs,
                     notes=[f"{path.name}: HotSpot fatal error log, {len(report.headline)} "
                            "headline line(s)"])


def _facts(r: HsErr) -> list[str]:
    out = []
    if r.jre_version:
        out.append(f"JVM {r.jre_version}" + (f" ({r.vm})" if r.vm else ""))
    if r.failed_in:
        out.append(f"hs_err: {r.failed_in}" + (f", pid {r.pid}" if r.pid is not None else ""))
    if r.container_type:
        limit = mi(r.memory_limit_bytes) if r.memory_limit_bytes else "unlimited"
        text = f"{r.container_type}: memory limit {limit}"
        if r.memory_usage_bytes is not None:
            text += f", usage {mi(r.memory_usage_bytes)}"
        if r.memory_max_usage_bytes is not None:
            text += f" (max {mi(r.memory_max_usage_bytes)})"
        out.append(text)
    if r.host_memory:
        out.append(f"host memory: {r.host_memory}")
    return out
