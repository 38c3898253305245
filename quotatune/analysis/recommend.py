"""Recommendations per container: rollups -> history -> strategy -> rounded Recommendations.

``recommend(usage, specs, events, strategy=, policy=)`` works from raw samples;
``recommend_from_rollups(rollups, specs, events, strategy=, policy=)`` from the per-day
rollups a history store keeps (:func:`quotatune.rollup.sketch.daily_rollup`).  The raw path
builds the same rollups first, so both give identical results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.analysis.known import evidence_memory, mib_or_none, unsized_rows
from quotatune.analysis.oom import limits_at_ooms, oom_events, oom_limits
from quotatune.analysis.policy import DEFAULT_POLICY, Policy
from quotatune.analysis.strategies import DEFAULT_STRATEGY, STRATEGIES
from quotatune.analysis.strategies.base import (
    NO_OOM_KILLS,
    Evidence,
    OomKills,
    Sizing,
    Strategy,
)
from quotatune.analysis.summary import History
from quotatune.model import KEY_COLUMNS, Current, Recommendation
from quotatune.model.errors import InputError
from quotatune.model.units import ceil_units
from quotatune.rollup import sketch
from quotatune.rollup.merge import fold_pods
from quotatune.rollup.sketch import daily_rollup

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "recommend", "recommend_from_rollups",
           "get_strategy", "rollup_columns", "folds_pods"]


def get_strategy(name: str | None) -> Strategy:
    """The strategy called ``name``; ``None`` (no flag given) is the default.  An empty name
    is refused like any unknown one: it comes from an empty variable (``--strategy "$S"``),
    and sizing with the default instead would be a different answer than the one asked for."""
    if name is None:
        name = DEFAULT_STRATEGY
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


def rollup_columns(strategy: str | None = None) -> list[str]:
    """The rollup columns a strategy reads: pass them to ``Store.read_rollups(columns=...)``."""
    extra = [c for c in get_strategy(strategy).columns if c not in sketch.BASE_COLUMNS]
    return list(sketch.BASE_COLUMNS) + list(dict.fromkeys(extra))


def folds_pods(strategy: str | None = None) -> bool:
    """Whether the strategy reads rollups folded per container and day
    (:func:`quotatune.rollup.merge.fold_pods`): a reader may fold them as it reads, day by
    day, and :func:`recommend_from_rollups` folds what it is given either way."""
    return not get_strategy(strategy).per_pod


def recommend(
    usage: pd.DataFrame,
    specs: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    strategy: str | None = None,
    policy: Policy | None = None,
) -> list[Recommendation]:
    """One Recommendation per (namespace, workload, container) in ``usage``."""
    get_strategy(strategy)  # fail on a bad name before any work
    events = limits_at_ooms(usage, events)
    return recommend_from_rollups(daily_rollup(usage), specs, events, strategy=strategy,
                                  policy=policy)


def recommend_from_rollups(
    rollups: pd.DataFrame,
    specs: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    strategy: str | None = None,
    policy: Policy | None = None,
    limit_rows: pd.DataFrame | None = None,
    pod_rows: pd.DataFrame | None = None,
) -> list[Recommendation]:
    """One Recommendation per container in ``rollups``, then one per container known only
    from ``specs`` (status ``no-usage``: current values, and what evidence alone gives).
    The memory limit at an OOM kill that ``events`` do not give is looked up in
    ``limit_rows`` (rollup rows per pod, of the kills' days), by default in ``rollups``:
    rollups read folded per container hold only each day's newest limit.  ``pod_rows``:
    for a strategy of per-pod scalars (``Strategy.pod_scalars``), its per-pod rows without
    histograms (see :func:`quotatune.pipelines.inputs.pod_rows`); ``rollups`` are then
    read folded."""
    strat = get_strategy(strategy)
    policy = policy or DEFAULT_POLICY
    out: list[Recommendation] = []
    if not rollups.empty:
        given = rollups
        pods = pod_rows if strat.pod_scalars else None
        if not strat.per_pod or pods is not None:
            # Folded here too, so rollups read folded or not give the same history.
            rollups = fold_pods(rollups)
        windowed = _window(rollups, strat, policy)
        h = History(windowed, pod_rows=None if pods is None else _window(pods, strat, policy))
        ev = evidence(h, specs, events, given if limit_rows is None else limit_rows)
        out = _build(h, ev, strat.fn(h, ev, policy), strat, policy)
    sized = {(r.namespace, r.workload, r.container) for r in out}
    return out + unsized_rows(specs, events, sized, strat.name)


def _window(rollups: pd.DataFrame, strat: Strategy, policy: Policy) -> pd.DataFrame:
    """Keep the last ``window_days`` (whole UTC days) before ``policy.now``, or, without a
    ``now``, before each container's own newest sample."""
    if strat.window_days is None:
        return rollups
    last = pd.to_datetime(rollups["t_last"], utc=True)
    if policy.now is not None:
        now = pd.Timestamp(policy.now)
        end = pd.Series(now if now.tzinfo else now.tz_localize("UTC"), index=rollups.index)
    else:
        end = last.groupby([rollups[c] for c in KEY_COLUMNS], dropna=False).transform("max")
    since = (end - pd.Timedelta(days=strat.window_days)).dt.floor("D")
    keep = (pd.to_datetime(rollups["day"], utc=True) >= since).to_numpy()
    return rollups if keep.all() else rollups[keep]  # a copy only where rows go


def evidence(h: History, specs: pd.DataFrame | None, events: pd.DataFrame | None,
             rollups: pd.DataFrame | None = None) -> Evidence:
    """Currents (usage columns, else the spec frame), OOM kills from the events with the
    limit each was hitting (:mod:`quotatune.analysis.oom`), JVM needs."""
    cur = {c: h.current(c) for c in ("cpu_request_cores", "cpu_limit_cores",
                                     "memory_request_bytes", "memory_limit_bytes")}
    if specs is not None and not specs.empty:
        sp = _per_container(h, specs)
        for c in cur:
            if c in sp:
                cur[c] = np.where(np.isnan(cur[c]), sp[c], cur[c])
    count, last = _ooms(h, events)
    at_oom = np.full(h.size, np.nan)
    oom_rows = oom_events(events)
    if not oom_rows.empty:
        pos = _index(h, oom_rows)
        limits = oom_limits(oom_rows, specs, rollups)
        ok = (pos >= 0) & np.isfinite(limits)
        np.fmax.at(at_oom, pos[ok], limits[ok])
    # The floor comes from the limit the container was killed at, never from a limit raised
    # since: otherwise every applied recommendation would raise the next one (a ratchet).
    at_oom = np.where(np.isnan(at_oom), cur["memory_limit_bytes"], at_oom)
    jvm_need, jvm_reason = _jvm(h, specs, cur["memory_limit_bytes"])
    return Evidence(
        oom_count=count, oom_last_ns=last, oom_limit=at_oom,
        mem_request=cur["memory_request_bytes"], mem_limit=cur["memory_limit_bytes"],
        cpu_request=cur["cpu_request_cores"], cpu_limit=cur["cpu_limit_cores"],
        jvm_need=jvm_need, jvm_reason=jvm_reason, oom_kills=_oom_kills(h, events),
    )


def _jvm(h: History, specs: pd.DataFrame | None, limits: np.ndarray
         ) -> tuple[np.ndarray, list[str | None]]:
    """The smallest memory limit each JVM's flags hold in (quotatune.analysis.jvm), and why."""
    need = np.full(h.size, np.nan)
    reason: list[str | None] = [None] * h.size
    if specs is None or specs.empty or "jvm_options" not in specs.columns \
            or not set(KEY_COLUMNS) <= set(specs.columns):
        return need, reason
    from quotatune.analysis.jvm import jvm_memory_need_bytes

    pos = _index(h, specs)
    for p, opts in zip(pos, specs["jvm_options"], strict=True):
        if p < 0 or opts is None or (not isinstance(opts, str) and len(opts) == 0):
            continue
        limit = limits[p] if np.isfinite(limits[p]) else None
        est = jvm_memory_need_bytes(list(opts) if not isinstance(opts, str) else opts, limit)
        if est is not None and est.min_limit_bytes is not None:
            need[p], reason[p] = float(est.min_limit_bytes), est.reason()
    return need, reason


def _index(h: History, frame: pd.DataFrame) -> np.ndarray:
    """Position of each frame row's container in ``h`` (-1: not in the history)."""
    keys = pd.MultiIndex.from_frame(h.keys[KEY_COLUMNS])
    other = pd.MultiIndex.from_frame(frame[KEY_COLUMNS].astype(str))
    return np.asarray(keys.get_indexer(other))


def _per_container(h: History, specs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Last known numeric value per container of each spec column (NaN = unknown)."""
    if not set(KEY_COLUMNS) <= set(specs.columns):
        return {}
    pos = _index(h, specs)
    out: dict[str, np.ndarray] = {}
    for col in ("cpu_request_cores", "cpu_limit_cores", "memory_request_bytes",
                "memory_limit_bytes"):
        if col not in specs.columns:
            continue
        v = pd.to_numeric(specs[col], errors="coerce").to_numpy("float64")
        arr = np.full(h.size, np.nan)
        ok = (pos >= 0) & ~np.isnan(v)
        arr[pos[ok]] = v[ok]  # later spec rows win
        out[col] = arr
    return out


def _ooms(h: History, events: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    count = np.zeros(h.size, "int64")
    last = np.full(h.size, np.nan)
    ev = oom_events(events)
    if ev.empty:
        return count, last
    pos = _index(h, ev)
    ok = pos >= 0
    np.add.at(count, pos[ok], 1)
    if "timestamp" in ev.columns:
        ts = pd.to_datetime(ev["timestamp"], utc=True, errors="coerce")
        t = ts.to_numpy("datetime64[ns]").astype("int64").astype("float64")
        t[ts.isna().to_numpy()] = np.nan
        for p, v in zip(pos[ok], t[ok], strict=True):
            if not np.isnan(v) and (np.isnan(last[p]) or v > last[p]):
                last[p] = v
    return count, last


def _oom_kills(h: History, events: pd.DataFrame | None) -> OomKills:
    """Every OOM kill of a container in ``h``, with its pod and time (VPA counts each)."""
    ev = oom_events(events)
    if ev.empty:
        return NO_OOM_KILLS
    pos = _index(h, ev)
    ok = pos >= 0
    at = pd.to_datetime(ev["timestamp"], utc=True, errors="coerce") if "timestamp" in ev \
        else pd.Series(pd.NaT, index=ev.index, dtype="datetime64[ns, UTC]")
    t = at.to_numpy("datetime64[ns]").astype("int64").astype("float64")
    t[at.isna().to_numpy()] = np.nan
    pod = ev["pod"].astype(str).where(ev["pod"].notna(), "") if "pod" in ev else \
        pd.Series("", index=ev.index)
    return OomKills(pos[ok].astype("int64"), pod.to_numpy(object)[ok], t[ok])


def confidence(days: float, samples: int) -> str:
    """VPA's confidence, min(history in days, samples / 288), with a day of 5-minute samples
    counting as one day (VPA assumes 1-minute samples): >= 7 high, >= 2 medium, else low."""
    c = min(days, samples / 288.0)
    return "high" if c >= 7 else "medium" if c >= 2 else "low"


def _build(h: History, ev: Evidence, s: Sizing, strat: Strategy,
           policy: Policy) -> list[Recommendation]:
    out = []
    platform = h.platform
    cur = [ceil_units(ev.cpu_request, "cpu"), ceil_units(ev.mem_request, "mem"),
           ceil_units(ev.mem_limit, "mem"), ceil_units(ev.cpu_limit, "cpu")]
    rec = [ceil_units(s.cpu_request, "cpu"), ceil_units(s.cpu_limit, "cpu"),
           ceil_units(s.mem_request, "mem"), ceil_units(s.mem_limit, "mem")]
    samples_all, hours_all = h.samples.tolist(), h.history_hours.tolist()
    for i, (ns, wl, ct) in enumerate(h.keys.itertuples(index=False, name=None)):
        samples, hours = int(samples_all[i]), float(hours_all[i])
        current = Current(cpu_request_millicores=cur[0][i], memory_request_mib=cur[1][i],
                          memory_limit_mib=cur[2][i], cpu_limit_millicores=cur[3][i])
        short = samples < policy.min_samples or hours < policy.min_history_hours
        if short:
            # Too little usage to size from, but what sizes a container without usage
            # still holds: a JVM killed at start-up has a sample or two and its kills.
            request, limit, why = _evidence_only(ev, i)
            values: tuple[int | None, ...] = (None, None, mib_or_none(request),
                                              mib_or_none(limit))
            status, conf = "insufficient-data", "none"
            reasons: tuple[str, ...] = (
                f"only {samples} sample(s) over {hours:.1f} h; needs at least "
                f"{policy.min_samples} samples over {policy.min_history_hours:g} h",
                *why,
            )
        else:
            values = (rec[0][i], rec[1][i], rec[2][i], rec[3][i])
            status, conf = "ok", confidence(hours / 24.0, samples)
            reasons = tuple(s.reasons[i]) + (
                f"confidence {conf}: {hours / 24.0:.1f} days of history, {samples} samples",
            )
        out.append(Recommendation(
            namespace=ns, workload=wl, container=ct,
            cpu_request_millicores=values[0], cpu_limit_millicores=values[1],
            memory_request_mib=values[2], memory_limit_mib=values[3],
            current=current, strategy=strat.name, samples=samples, history_hours=hours,
            confidence=conf, status=status, reasons=reasons, platform=platform[i],
        ))
    return out


def _evidence_only(ev: Evidence, i: int) -> tuple[float | None, float | None, list[str]]:
    """Container ``i``'s memory from its JVM flags and OOM kills alone, as a container
    without usage gets it (:func:`quotatune.analysis.known.evidence_memory`)."""
    need = float(ev.jvm_need[i]) if np.isfinite(ev.jvm_need[i]) else None
    return evidence_memory(need, ev.jvm_reason[i], int(ev.oom_count[i]),
                           float(ev.oom_limit[i]))

