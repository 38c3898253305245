"""What a strategy is: a named, vectorised function from a :class:`History` to sizes.

Strategies return floats (cores, bytes) per container plus the reasons behind each number;
:mod:`quotatune.analysis.recommend` rounds up, applies the data-sufficiency rules and builds
the :class:`~quotatune.model.Recommendation` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from quotatune.analysis.policy import Policy
from quotatune.analysis.summary import History
from quotatune.model.units import MIB, bytes_to_mib_ceil, ceil_units, cores_to_millicores_ceil


@dataclass
class Sizing:
    """Per container: CPU in cores, memory in bytes; NaN = leave unset (e.g. no CPU limit)."""

    cpu_request: np.ndarray
    cpu_limit: np.ndarray
    mem_request: np.ndarray
    mem_limit: np.ndarray
    reasons: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class OomKills:
    """Every OOM kill known for the containers of a history, one entry each."""

    container: np.ndarray  # int64: the container's row in the History
    pod: np.ndarray  # str: the pod it happened in ("" = not known)
    at_ns: np.ndarray  # float64: when (ns since the epoch; NaN = not known)


NO_OOM_KILLS = OomKills(np.zeros(0, "int64"), np.zeros(0, object), np.zeros(0))


@dataclass(frozen=True)
class Evidence:
    """What a strategy may use besides usage: OOM kills and the JVM's declared needs."""

    # Per container: number of OOM kills and the time of the last one (ns since the epoch,
    # NaN = none); the current memory request and limit in bytes (NaN = unknown), i.e. the
    # ceiling an OOM-killed container was hitting.
    oom_count: np.ndarray
    oom_last_ns: np.ndarray
    mem_request: np.ndarray
    mem_limit: np.ndarray
    cpu_request: np.ndarray
    cpu_limit: np.ndarray
    # Per container: bytes a JVM needs by its flags (NaN: not a JVM, or unknown), and why.
    jvm_need: np.ndarray
    jvm_reason: list[str | None]
    # Per container: the memory limit in force at its OOM kills (the highest of them; the
    # current limit when unknown). OOM floors grow from this, never from a limit raised since.
    oom_limit: np.ndarray = field(default_factory=lambda: np.empty(0))
    # Each kill on its own (VPA adds one memory sample per kill).
    oom_kills: OomKills = NO_OOM_KILLS


StrategyFn = Callable[[History, Evidence, Policy], Sizing]


@dataclass(frozen=True)
class Strategy:
    name: str
    summary: str
    fn: StrategyFn
    # Look back only this many days before "now" (KRR: 14); None = all history.
    window_days: float | None = None
    # Rollup columns read besides sketch.BASE_COLUMNS (histograms are the bulk of a store).
    columns: tuple[str, ...] = ()
    # Sizes from per-pod facts (History.pods): its rollups keep a row per pod.  The others
    # read them folded per container and day (rollup.merge.fold_pods), so their memory
    # follows the containers, not the pods a CronJob keeps starting.
    per_pod: bool = False
    # Of a per-pod strategy: its per-pod facts are the rows' scalars (and the hourly peaks
    # of killed containers' pods); the histograms it reads are its containers'.  A store
    # then gives it rollups folded per container and day, and pod rows without histograms
    # (History.pods), so a CronJob's pods cost a few numbers each.
    pod_scalars: bool = False


def empty_reasons(n: int) -> list[list[str]]:
    return [[] for _ in range(n)]


def nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def fmt_cpu(cores: float) -> str:
    return f"{cores_to_millicores_ceil(float(cores))}m"


def fmt_mem(nbytes: float) -> str:
    mib = bytes_to_mib_ceil(float(nbytes))
    if mib >= 10 * 1024:
        return f"{mib / 1024:.1f} GiB"
    return f"{mib} MiB"


def fmt_cpus(cores: np.ndarray) -> list[str]:
    """:func:`fmt_cpu` of each value, rounded a whole array at a time (the reasons of a
    fleet's containers: 15,000 values made one by one were a tenth of a recommendation)."""
    return [f"{m}m" if m is not None else fmt_cpu(v)  # fmt_cpu raises for NaN, as one by one
            for m, v in zip(ceil_units(cores, "cpu"), np.asarray(cores).tolist(), strict=True)]


def fmt_mems(nbytes: np.ndarray) -> list[str]:
    """:func:`fmt_mem` of each value, rounded a whole array at a time."""
    return [(f"{m / 1024:.1f} GiB" if m >= 10 * 1024 else f"{m} MiB") if m is not None
            else fmt_mem(v)
            for m, v in zip(ceil_units(nbytes, "mem"), np.asarray(nbytes).tolist(), strict=True)]


def fmt_days(hours: float) -> str:
    return f"{hours / 24:.1f} days"


def apply_floor(
    values: np.ndarray, floor: float, what: str, unit: Callable[[float], str],
    reasons: list[list[str]],
) -> np.ndarray:
    """max(values, floor), with a reason for every container that was raised."""
    low = values < floor
    for i in np.flatnonzero(low):
        reasons[i].append(f"{what} raised to the minimum {unit(floor)} (computed "
                          f"{unit(values[i])})")
    return np.where(low, floor, values)


def ratio_limit(target: np.ndarray, cur_request: np.ndarray, cur_limit: np.ndarray) -> np.ndarray:
    """Limit keeping the current limit/request ratio (VPA's rule); NaN where either is unknown."""
    ok = (cur_request > 0) & (cur_limit > 0)
    ratio = np.where(ok, cur_limit / np.where(ok, cur_request, 1.0), np.nan)
    return target * ratio


MIN_MEM_STEP = 100 * MIB  # VPA's OOM minimum bump
