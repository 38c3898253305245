"""Rows for containers known without usage: from specs (pod objects, kubectl dumps, Docker
inspect, kube-state-metrics, hs_err logs) but with no sample to size from.

Listing them is what an operator expects (KRR and Goldilocks list every workload): a
sidecar nobody scraped, a Docker host whose containers all exited, a dump imported before
any metrics. Each row carries the current values and status ``no-usage``; the recommended
values stay null unless evidence other than usage gives one: a JVM's flags (its heap +
non-heap need, :mod:`quotatune.analysis.jvm`) or an OOM kill at a known limit.

Pure: frames in, :class:`Recommendation` values out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from quotatune.analysis.jvm import jvm_memory_need_bytes
from quotatune.analysis.oom import OOM_RULE, oom_events, oom_floor, oom_limits
from quotatune.model import KEY_COLUMNS, Current, Recommendation
from quotatune.model.units import bytes_to_mib_ceil, cores_to_millicores_ceil

NO_USAGE = ("no usage samples for this container: the recommendation needs its CPU and "
            "memory use (collect or import them); current values shown")
_DOCKER_SOURCES = ("docker",)


def unsized_rows(specs: pd.DataFrame | None, events: pd.DataFrame | None,
                 sized: set[tuple[str, str, str]], strategy: str) -> list[Recommendation]:
    """One ``no-usage`` Recommendation per container of ``specs`` not in ``sized``.

    Init containers that run to completion are left out: they have nothing steady to size.
    """
    if specs is None or specs.empty or not set(KEY_COLUMNS) <= set(specs.columns):
        return []
    latest: dict[tuple[str, str, str], dict[Any, Any]] = {}
    for row in specs.to_dict("records"):
        key = (str(row["namespace"]), str(row["workload"]), str(row["container"]))
        if key in sized or not key[2] or row.get("init_container") is True:
            continue
        latest[key] = row  # later rows are newer
    if not latest:
        return []
    floors = _oom_floors(specs, events, set(latest))
    return [_row(key, row, floors.get(key), strategy) for key, row in sorted(latest.items())]


def _row(key: tuple[str, str, str], spec: dict[Any, Any], oom: tuple[int, float] | None,
         strategy: str) -> Recommendation:
    cpu_r, cpu_l = _num(spec.get("cpu_request_cores")), _num(spec.get("cpu_limit_cores"))
    mem_r, mem_l = _num(spec.get("memory_request_bytes")), _num(spec.get("memory_limit_bytes"))
    current = Current(
        cpu_request_millicores=_cpu(cpu_r), memory_request_mib=mib_or_none(mem_r),
        memory_limit_mib=mib_or_none(mem_l), cpu_limit_millicores=_cpu(cpu_l))
    need: float | None = None
    reason: str | None = None
    opts = spec.get("jvm_options")
    if opts is not None and not isinstance(opts, float) and len(opts):
        est = jvm_memory_need_bytes(opts if isinstance(opts, str) else list(opts),
                                    int(mem_l) if mem_l else None)
        if est is not None and est.min_limit_bytes:
            need, reason = float(est.min_limit_bytes), est.reason()
    count, killed_at = oom if oom is not None else (0, None)
    request, limit, why = evidence_memory(need, reason, count, killed_at)
    return Recommendation(
        namespace=key[0], workload=key[1], container=key[2],
        cpu_request_millicores=None, cpu_limit_millicores=None,
        memory_request_mib=mib_or_none(request), memory_limit_mib=mib_or_none(limit),
        current=current, strategy=strategy,
        samples=0, history_hours=0.0, confidence="none", status="no-usage",
        reasons=(NO_USAGE, *why), platform=_platform(spec.get("source")))


def evidence_memory(need: float | None, need_reason: str | None, kills: int,
                    killed_at: float | None) -> tuple[float | None, float | None, list[str]]:
    """The memory request and limit (bytes; None: no evidence) that evidence other than
    usage gives a container, and why: a JVM's flags (request = limit = the smallest limit
    they hold in, ``need``), ``kills`` OOM kills at limit ``killed_at`` (the limit at least
    :func:`quotatune.analysis.oom.oom_floor` of it; the request waits for usage).  For a
    container with no usage or too little to size from: a JVM that reserves its heap at
    start-up under a tight limit dies before it is sampled more than a few times."""
    reasons = []
    if need is not None:
        reasons.append(f"memory from the JVM's flags alone: request = limit = "
                       f"{bytes_to_mib_ceil(need)} MiB, the smallest limit they hold in "
                       f"({need_reason or 'JVM flags'})")
    limit = need
    if kills and killed_at is not None and math.isfinite(killed_at) and killed_at > 0:
        floor = float(oom_floor(np.asarray(killed_at)))
        reasons.append(f"{kills} OOM kill(s) at limit {bytes_to_mib_ceil(killed_at)} MiB: limit "
                       f"at least {bytes_to_mib_ceil(floor)} MiB ({OOM_RULE}); the request "
                       "waits for usage")
        limit = max(limit or 0.0, floor)
    return need, limit, reasons


def _oom_floors(specs: pd.DataFrame, events: pd.DataFrame | None,
                keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], tuple[int, float]]:
    """(kills, highest limit in force at a kill) per container of ``keys``."""
    ooms = oom_events(events)
    if ooms.empty:
        return {}
    limits = oom_limits(ooms, specs, None)
    out: dict[tuple[str, str, str], tuple[int, float]] = {}
    for key, lim in zip(ooms[KEY_COLUMNS].astype(str).itertuples(index=False, name=None),
                        limits, strict=True):
        if key not in keys or not math.isfinite(lim) or lim <= 0:
            continue
        count, best = out.get(key, (0, 0.0))
        out[key] = (count + 1, max(best, float(lim)))
    return out


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


def _cpu(cores: float | None) -> int | None:
    return None if cores is None else cores_to_millicores_ceil(cores)


def mib_or_none(nbytes: float | None) -> int | None:
    return None if nbytes is None else bytes_to_mib_ceil(nbytes)


def _platform(source: Any) -> str | None:
    s = str(source or "")
    if not s or s == "nan" or s.startswith("hs_err"):
        return None
    return "docker" if s in _DOCKER_SOURCES else "kubernetes"
