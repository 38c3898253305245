"""Collect usage history from Prometheus (cAdvisor + kube-state-metrics series).

Queries are split by namespace (from the label-values API, which reads only the index) and by
time, so that no response holds more than ``max_points`` points per series (Prometheus refuses
range queries above 11,000).  A failing query is recorded in ``Collected.errors`` naming the
namespace, the series and the time span that is missing; the rest still runs.  When the server
stops answering altogether the collection stops and says which namespaces were not read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
)
from quotatune.sources.prometheus.run import (
    MAX_CONCURRENCY,
    QueryRun,
    bind,
    discover_namespaces,
    namespace_pods,
    some_pods,
)
from quotatune.sources.prometheus.split import (
    COST,
    MAX_PODS,
    MAX_SAMPLES,
    Budget,
    Fetch,
    Pods,
    Shape,
)

Expr = Callable[[str], str]  # a pod-group selector -> PromQL


def _ksm_last(metric: str, by: str, window_s: float, extra: str = "") -> Expr:
    return lambda sel: (f"max by ({by}) (last_over_time({metric}{{{sel}{extra}}}"
                        f"[{promql_duration(window_s)}]))")


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
    max_concurrency: int = MAX_CONCURRENCY,
    max_pods: int = MAX_PODS,
    max_samples: int = MAX_SAMPLES,
    budget: Budget | None = None,
) -> Collected:
    """Read ``window`` of history ending at ``now`` (aligned down to ``step``) into frames.

    No query is planned above ``max_samples`` (the server's peak of samples in memory, see
    :mod:`.split`), at most ``max_concurrency`` are in flight, and one the server refuses as
    too big is split and sent again.  A ``budget`` passed in (instead of ``max_samples``)
    shows afterwards what splitting did."""
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
    run = QueryRun(client, out.errors, max_concurrency, max_samples, budget)
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
    out.notes.extend(run.notes())
    out.notes.extend(f"server warning: {w}" for w in sorted(run.warnings))
    return out


def _collect_namespace(run: QueryRun, ns: str, extra: str, start: float, end: float, step_s: float,
                       rw: float, max_points: int, max_pods: int,
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    sel = cadvisor_selector(ns, extra)
    pods = namespace_pods(run, ns, sel, start, end)

    def fetch(what: str, expr: Expr, cost: float) -> pd.DataFrame:
        return Fetch(run, f"{ns}: {what}", expr, sel, step_s, Shape(cost, step_s),
                     max_points=max_points, max_pods=max_pods)(pods, start, end)

    cpu_df, mem_df, thr_df = run.all([
        bind(fetch, "cpu", lambda g: cpu_expr(g, rw), COST["rate"]),
        bind(fetch, "memory", memory_expr, COST["gauge"]),
        bind(fetch, "cpu throttling", lambda g: throttle_expr(g, rw), COST["throttling"])])
    cpu, d1 = pp.container_rows(cpu_df, "cpu_cores")
    mem, d2 = pp.container_rows(mem_df, "memory_working_set_bytes")
    thr = pp.throttled_rows(thr_df)
    owners, resources, events = namespace_context(run, ns, sel, start, end, step_s, pods,
                                                  max_points)
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


class _Ksm:
    """kube-state-metrics and event queries of one namespace, by the pods of its cAdvisor
    series (a pod without usage in the window has nothing to size)."""

    def __init__(self, run: QueryRun, ns: str, start: float, end: float, step_s: float,
                 pods: Pods | None, max_points: int) -> None:
        self.run, self.ns, self.start, self.end, self.step_s = run, ns, start, end, step_s
        self.pods, self.max_points = pods, max_points
        self.base = f"namespace={quote(ns)}"

        # Selectors read whole (not by pod) have at most as many series as the namespace.
        self.series = None if pods is None else sum(n for _, n in pods)

    def last(self, what: str, expr: Expr, *, by_pod: bool = True) -> pd.DataFrame:
        """An instant query at the end over the whole window (``*_over_time``)."""
        shape = Shape(COST["window"], self.step_s, self.end - self.start, streamed=True)
        return Fetch(self.run, f"{self.ns}: {what}", expr, self.base, self.step_s, shape)(
            self.pods if by_pod else None, self.end, self.end, self.series)

    def range(self, what: str, expr: Expr, base: str | None = None,
              pods: Pods | None = None) -> pd.DataFrame:
        return Fetch(self.run, f"{self.ns}: {what}", expr, base or self.base, self.step_s,
                     Shape(COST["gauge"], self.step_s), max_points=self.max_points)(
            pods, self.start, self.end, self.series)


def namespace_context(run: QueryRun, ns: str, sel: str, start: float, end: float, step_s: float,
                      pods: Pods | None, max_points: int = MAX_POINTS,
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Owners, requests/limits and events of a namespace: small, so both modes fetch them."""
    k = _Ksm(run, ns, start, end, step_s, pods, max_points)
    window_s = end - start
    owners = pp.owner_map(
        k.last("kube_pod_owner", _ksm_last(
            "kube_pod_owner", "namespace, pod, owner_kind, owner_name", window_s)),
        k.last("kube_replicaset_owner", _ksm_last(
            "kube_replicaset_owner", "namespace, replicaset, owner_kind, owner_name",
            window_s), by_pod=False))
    resources = _resources(k, window_s)
    events = pe.drop_duplicate_ooms(_ooms(k, sel, window_s), _terminations(k), step_s)
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


def _resources(k: _Ksm, window_s: float) -> pd.DataFrame:
    """Requests and limits per container: the last value in the window (a pod's resources
    are fixed for its life, so one value per pod is what the range would say anyway)."""
    out: pd.DataFrame | None = None
    for metric in ("kube_pod_container_resource_requests", "kube_pod_container_resource_limits"):
        df = k.last(metric, _ksm_last(metric, "namespace, pod, container, resource", window_s,
                                      ',resource=~"cpu|memory"'))
        if df.empty or "resource" not in df.columns:
            continue
        rows, _ = pp.container_rows(df, "v", keep=["resource"])
        wide = rows.pivot_table(index=pp.KEY, columns="resource", values="v", aggfunc="max")
        wide = wide.rename(columns={r: _RESOURCE_COLUMNS[(metric, r)] for r in wide.columns})
        wide = wide.reset_index()
        out = wide if out is None else out.merge(wide, on=pp.KEY, how="outer")
    return out if out is not None else pd.DataFrame()


def _ooms(k: _Ksm, sel: str, window_s: float) -> pd.DataFrame:
    # Most containers never OOM: ask which counters are non-zero, then fetch only those.
    hot = Fetch(k.run, f"{k.ns}: container_oom_events_total", lambda g: (
        f"max by ({BY}) (max_over_time(container_oom_events_total{{{g}}}"
        f"[{promql_duration(window_s)}])) > 0"), sel, k.step_s,
        Shape(COST["window"], k.step_s, window_s, streamed=True))(k.pods, k.end, k.end)
    if hot.empty or "pod" not in hot.columns:
        return model.empty_events()
    counter = k.range("container_oom_events_total",
                      lambda g: f"max by ({BY}) (container_oom_events_total{{{g}}})",
                      base=sel, pods=some_pods(k.pods, list(hot["pod"])))
    rows, _ = pp.container_rows(counter, "value")
    return pe.oom_events(rows)


def _terminations(k: _Ksm) -> pd.DataFrame:
    base = "kube_pod_container_status_last_terminated_"
    # Only terminated containers have these series: few, so by time only, every pod at once.
    reasons = k.range(f"{base}reason", lambda g: f"max by ({BY}, reason) ({base}reason{{{g}}})")
    if reasons.empty:
        return model.empty_events()
    times = k.range(f"{base}timestamp", lambda g: f"max by ({BY}) ({base}timestamp{{{g}}})")
    codes = k.range(f"{base}exitcode", lambda g: f"max by ({BY}) ({base}exitcode{{{g}}})")
    return pe.termination_events(reasons, times, codes, k.step_s)


__all__ = ["PrometheusClient", "collect_prometheus", "MAX_POINTS"]
