"""Collect usage history from Prometheus (cAdvisor + kube-state-metrics series).

Queries are split by namespace (from the label-values API, which reads only the index) and by
time, so that no response holds more than ``max_points`` points per series (Prometheus refuses
range queries above 11,000).  A failing query is recorded in ``Collected.errors`` naming the
namespace, the series and the time span that is missing; the rest still runs.  When the server
stops answering altogether the collection stops and says which namespaces were not read.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.sources.prometheus import events as pe
from quotatune.sources.prometheus import parse as pp
from quotatune.sources.prometheus.client import PrometheusClient
from quotatune.sources.prometheus.queries import (
    BY,
    MAX_POINTS,
    align_end,
    cadvisor_selector,
    check_selector,
    cpu_expr,
    default_rate_window,
    memory_expr,
    promql_duration,
    quote,
    throttle_expr,
    time_chunks,
)
from quotatune.sources.prometheus.run import (
    MAX_PODS,
    POINT_BUDGET,
    QueryRun,
    bind,
    discover_namespaces,
    pod_groups,
    regex_alt,
)


def _ksm_last(metric: str, by: str, ns: str, window_s: float, extra: str = "") -> str:
    sel = f"namespace={quote(ns)}" + (f",{extra}" if extra else "")
    return f"max by ({by}) (last_over_time({metric}{{{sel}}}[{promql_duration(window_s)}]))"


def collect_prometheus(
    client: PrometheusClient,
    *,
    window: timedelta,
    step: timedelta,
    now: datetime,
    namespace: str | None = None,
    selector: str | None = None,
    max_points: int = MAX_POINTS,
    rate_window: timedelta | None = None,
    concurrency: int = 4,
    max_pods: int = MAX_PODS,
) -> Collected:
    """Read ``window`` of history ending at ``now`` (aligned down to ``step``) into frames."""
    step_s = step.total_seconds()
    window_s = window.total_seconds()
    if step_s <= 0 or window_s < step_s:
        raise InputError("--window must be at least one --step")
    extra = check_selector(selector)
    rw = rate_window.total_seconds() if rate_window else default_rate_window(step_s)
    end = align_end(now, step_s)
    # Whole steps back from an aligned end: every point sits on the epoch-aligned grid that
    # subqueries (aggregate mode) use too.
    start = end - math.floor(window_s / step_s) * step_s
    out = Collected()
    run = QueryRun(client, out.errors, concurrency)
    names = [namespace] if namespace else discover_namespaces(
        run, cadvisor_selector(None, extra), start, end)
    if names is None:
        return out
    if not names:
        out.notes.append(f"{client.url}: no container series in the window")
        return out
    usage, specs, events = [], [], []
    dropped = 0
    for i, ns in enumerate(names):
        if run.dead is not None:
            out.errors.append(f"not collected (server stopped answering): namespaces "
                              f"{', '.join(names[i:])}")
            break
        u, s, e, d = _collect_namespace(run, ns, extra, start, end, step_s, rw, max_points,
                                        max_pods)
        usage.append(u)
        specs.append(s)
        events.append(e)
        dropped += d
    frames = [u for u in usage if not u.empty]
    if frames:
        out.usage = model.validate_usage(pd.concat(frames, ignore_index=True),
                                         f"prometheus {client.url}", row_offset=0)
    if any(not s.empty for s in specs):
        out.specs = pd.concat([s for s in specs if not s.empty], ignore_index=True)
    if any(not e.empty for e in events):
        out.events = pd.concat([e for e in events if not e.empty], ignore_index=True)
    if out.usage.empty and not out.errors:
        out.notes.append(f"{client.url}: no container series in namespace(s) "
                         f"{', '.join(names)} in the window")
    if dropped:
        out.notes.append(f"dropped {dropped} NaN, infinite or negative sample(s)")
    out.notes.extend(f"server warning: {w}" for w in sorted(run.warnings))
    return out


def _collect_namespace(run: QueryRun, ns: str, extra: str, start: float, end: float, step_s: float,
                       rw: float, max_points: int, max_pods: int,
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    sel = cadvisor_selector(ns, extra)
    parts: list[list[pd.DataFrame]] = [[], [], []]
    for group, npods in pod_groups(run, ns, sel, start, end, max_pods):
        # Fewer steps per request when a group holds many series: responses stay bounded.
        chunks = time_chunks(start, end, step_s,
                             max(2, min(max_points, POINT_BUDGET // max(npods, 1))))
        series = run.all([
            bind(run.range, f"{ns}: cpu", cpu_expr(group, rw), chunks, step_s),
            bind(run.range, f"{ns}: memory", memory_expr(group), chunks, step_s),
            bind(run.range, f"{ns}: cpu throttling", throttle_expr(group, rw), chunks, step_s)])
        for acc, df in zip(parts, series, strict=True):
            acc.append(df)
    cpu, d1 = pp.container_rows(pd.concat(parts[0], ignore_index=True), "cpu_cores")
    mem, d2 = pp.container_rows(pd.concat(parts[1], ignore_index=True),
                                "memory_working_set_bytes")
    thr, _ = pp.container_rows(pd.concat(parts[2], ignore_index=True), "cpu_throttled_ratio")
    owners, resources, events = namespace_context(run, ns, sel, start, end, step_s,
                                                  time_chunks(start, end, step_s, max_points))
    # cpu and memory at the same instants make a usage row; a point missing from either
    # side (the first point of a counter, a gap) is not a sample.
    usage = cpu.merge(mem, on=[*pp.KEY, "timestamp"], how="inner")
    if not thr.empty:
        usage = usage.merge(thr, on=[*pp.KEY, "timestamp"], how="left")
    if not resources.empty:
        usage = usage.merge(resources, on=pp.KEY, how="left")
    usage = pp.apply_workloads(usage, owners)
    usage["platform"] = "kubernetes"
    return usage, specs_rows(resources, owners), events, d1 + d2


def namespace_context(run: QueryRun, ns: str, sel: str, start: float, end: float, step_s: float,
                      chunks: list[tuple[float, float]],
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Owners, requests/limits and events of a namespace: small, so both modes fetch them."""
    window_s = end - start
    owners = pp.owner_map(
        run.instant(f"{ns}: kube_pod_owner", _ksm_last(
            "kube_pod_owner", "namespace, pod, owner_kind, owner_name", ns, window_s), end),
        run.instant(f"{ns}: kube_replicaset_owner", _ksm_last(
            "kube_replicaset_owner", "namespace, replicaset, owner_kind, owner_name", ns,
            window_s), end))
    resources = _resources(run, ns, window_s, end)
    events = pe.drop_duplicate_ooms(_ooms(run, ns, sel, window_s, end, chunks, step_s),
                                    _terminations(run, ns, chunks, step_s), step_s)
    if not events.empty:
        events = pp.apply_workloads(events.drop(columns=["workload"]), owners)
        events = events[model.EVENT_COLUMNS]
    return owners, resources, events


def specs_rows(resources: pd.DataFrame, owners: pd.DataFrame) -> pd.DataFrame:
    if resources.empty:
        return model.empty_specs()
    specs = pp.apply_workloads(resources, owners).assign(source="prometheus")
    # What Prometheus does not know (image, command, JVM flags…) is None, not NaN.
    for col in model.SPEC_COLUMNS:
        if col not in specs.columns:
            specs[col] = pd.Series([None] * len(specs), index=specs.index, dtype=object)
    return specs[model.SPEC_COLUMNS]


_RESOURCE_COLUMNS = {
    ("kube_pod_container_resource_requests", "cpu"): "cpu_request_cores",
    ("kube_pod_container_resource_requests", "memory"): "memory_request_bytes",
    ("kube_pod_container_resource_limits", "cpu"): "cpu_limit_cores",
    ("kube_pod_container_resource_limits", "memory"): "memory_limit_bytes",
}


def _resources(run: QueryRun, ns: str, window_s: float, end: float) -> pd.DataFrame:
    """Requests and limits per container: the last value in the window (a pod's resources
    are fixed for its life, so one value per pod is what the range would say anyway)."""
    out: pd.DataFrame | None = None
    for metric in ("kube_pod_container_resource_requests", "kube_pod_container_resource_limits"):
        df = run.instant(f"{ns}: {metric}", _ksm_last(
            metric, "namespace, pod, container, resource", ns, window_s,
            'resource=~"cpu|memory"'), end)
        if df.empty or "resource" not in df.columns:
            continue
        rows, _ = pp.container_rows(df, "v", keep=["resource"])
        wide = rows.pivot_table(index=pp.KEY, columns="resource", values="v", aggfunc="max")
        wide = wide.rename(columns={r: _RESOURCE_COLUMNS[(metric, r)] for r in wide.columns})
        wide = wide.reset_index()
        out = wide if out is None else out.merge(wide, on=pp.KEY, how="outer")
    return out if out is not None else pd.DataFrame()


def _ooms(run: QueryRun, ns: str, sel: str, window_s: float, end: float,
          chunks: list[tuple[float, float]], step_s: float) -> pd.DataFrame:
    # Most containers never OOM: ask which counters are non-zero, then fetch only those.
    hot = run.instant(f"{ns}: container_oom_events_total",
                      f"max by ({BY}) (max_over_time(container_oom_events_total{{{sel}}}"
                      f"[{promql_duration(window_s)}])) > 0", end)
    if hot.empty or "pod" not in hot.columns:
        return model.empty_events()
    pods = regex_alt(list(hot["pod"]))
    counter = run.range(f"{ns}: container_oom_events_total",
                        f"max by ({BY}) (container_oom_events_total{{{sel},pod=~{pods}}})",
                        chunks, step_s)
    rows, _ = pp.container_rows(counter, "value")
    return pe.oom_events(rows)


def _terminations(run: QueryRun, ns: str, chunks: list[tuple[float, float]],
                  step_s: float) -> pd.DataFrame:
    sel = f"namespace={quote(ns)}"
    base = "kube_pod_container_status_last_terminated_"
    reasons = run.range(f"{ns}: {base}reason", f"max by ({BY}, reason) ({base}reason{{{sel}}})",
                        chunks, step_s)
    if reasons.empty:
        return model.empty_events()
    times = run.range(f"{ns}: {base}timestamp", f"max by ({BY}) ({base}timestamp{{{sel}}})",
                      chunks, step_s)
    codes = run.range(f"{ns}: {base}exitcode", f"max by ({BY}) ({base}exitcode{{{sel}}})",
                      chunks, step_s)
    return pe.termination_events(reasons, times, codes, step_s)


__all__ = ["PrometheusClient", "collect_prometheus", "MAX_POINTS"]
