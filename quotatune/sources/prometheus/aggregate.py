"""Aggregate mode: compute the per-container, per-day summaries inside Prometheus.

For fleets whose samples do not fit one machine, the samples never travel: Prometheus
evaluates, per container and UTC day, exactly the rollup that :func:`quotatune.rollup.sketch.
daily_rollup` computes from samples (count, first/last time, sums, maxima, recency-weighted
sums, hourly memory peaks and the sparse log-bucket histograms), and only those come back.
:func:`quotatune.analysis.recommend.recommend_from_rollups` then sizes containers from them
exactly as it does from the store.

Why the two paths agree: both evaluate the same PromQL (:mod:`.queries`) at the same
step-aligned instants (subqueries align to multiples of their step, and the sample path
aligns its range queries the same way); a point counts only where CPU and memory both exist
(the sample path's inner join); a point belongs to the UTC day it falls in; and every
subquery is limited to the collection window.  The histogram bucket of a point is the same
formula evaluated in Go instead of numpy: both are IEEE doubles, so a bucket can differ only
for a value within one ulp of a bucket boundary.  Sums may differ in the last bits from the
order of additions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.rollup import sketch
from quotatune.sources.prometheus import collector as prom
from quotatune.sources.prometheus import parse as pp
from quotatune.sources.prometheus.client import PrometheusClient
from quotatune.sources.prometheus.queries import (
    align_end,
    cadvisor_selector,
    check_selector,
    cpu_expr,
    default_rate_window,
    memory_expr,
    promql_duration,
)
from quotatune.sources.prometheus.rules import (
    MEM_5M,
    RULE_STEP,
    cpu_rule_expr,
    memory_rule_expr,
    rules_cover,
)
from quotatune.sources.prometheus.run import (
    MAX_CONCURRENCY,
    QueryRun,
    bind,
    discover_namespaces,
    namespace_pods,
)
from quotatune.sources.prometheus.split import (
    COST,
    FIXED,
    MAX_SAMPLES,
    Budget,
    Fetch,
    Pods,
    Shape,
)

DAY = 86_400


def _bucket(expr: str, first: float) -> str:
    """:func:`sketch.bucket_index` in PromQL, with the same constants and operation order.
    (Its lower clip is a no-op here: rates and working sets are never negative.)"""
    return (f"clamp_max(floor(ln({expr} * {sketch.RATIO - 1!r} / {first!r} + 1)"
            f" / {math.log(sketch.FINE_RATIO)!r}), {sketch.NBUCKETS - 1})")


# A query is (outer *_over_time function, inner expression, period: a day or an hour).
Query = tuple[str, str, int]


def daily_queries(cpu: str, mem: str) -> dict[str, Query]:
    """PromQL per rollup column: ``<fn>_over_time((<inner>)[<period>:<step>])``."""
    jc = f"(({cpu}) and ({mem}))"  # CPU where memory exists too: the sample path's join
    jm = f"(({mem}) and ({cpu}))"
    w = f"2 ^ ((time() % {DAY}) / {sketch.HALF_LIFE_S!r})"  # sketch's recency weight
    # n and w_sum are the totals of the CPU histogram's counts and weights, and the day's
    # memory peak is the highest of its hourly peaks: none of them is asked for twice.
    q: dict[str, Query] = {
        "t_first": ("min", f"{jc} * 0 + time()", DAY),
        "t_last": ("max", f"{jc} * 0 + time()", DAY),
        "cpu_sum": ("sum", jc, DAY), "cpu_max": ("max", jc, DAY),
        "cpu_wsum": ("sum", f"{jc} * {w}", DAY),
        "mem_sum": ("sum", jm, DAY),
        "mem_wsum": ("sum", f"{jm} * {w}", DAY),
    }
    for prefix, j, first in (("cpu", jc, sketch.CPU_FIRST), ("mem", jm, sketch.MEM_FIRST)):
        # ``without ()``: the operand carries only namespace/pod/container.  (``by (…)`` would
        # say the same, but Prometheus 2.42 mislabels its output across the steps of a range
        # or subquery evaluation; seen against Debian's 2.42.0.)
        cv = f'count_values without () ("b", {_bucket(j, first)})'
        q[f"{prefix}_c"] = ("count", cv, DAY)
        q[f"{prefix}_w"] = ("sum", f"{cv} * {w}", DAY)
    q["mem_hour_max"] = ("max", jm, 3600)
    return q


def evaluations(start: float, end: float, period: int, step_s: float
                ) -> list[tuple[float, float, float]]:
    """Where to evaluate a per-period aggregate over the points ``start..end`` (inclusive).

    Returns ``(first_eval, last_eval, sub_range_s)`` triples: one range query for the periods
    wholly inside the window (evaluated at ``period_end - step`` over ``period - step``), and
    an instant query (first == last) for each partly covered period, over only the covered
    part.  Cutting at the window edges this way keeps every subquery free of filters, and a
    range of ``span + 1 ms`` reaches back to exactly the first point under both the
    left-closed (2.x) and the left-open (3.x) range rule.
    """
    out = []
    p0 = math.floor(start / period) * period
    p1 = math.floor(end / period) * period
    full_lo = p0 if start <= p0 else p0 + period
    full_hi = p1 if end >= p1 + period - step_s else p1 - period
    if full_lo <= full_hi:
        out.append((full_lo + period - step_s, full_hi + period - step_s, period - step_s))
    for p in sorted({p0, p1}):
        if full_lo <= p <= full_hi:
            continue
        lo, at = max(p, start), min(p + period - step_s, end)
        if lo <= at:
            out.append((at, at, at - lo))
    return out


def rollups_from_prometheus(
    client: PrometheusClient, *, window: timedelta, step: timedelta, now: datetime,
    namespace: str | None = None, selector: str | None = None,
    max_concurrency: int = MAX_CONCURRENCY, max_samples: int = MAX_SAMPLES,
    rules: bool | None = None, budget: Budget | None = None,
) -> tuple[pd.DataFrame, Collected]:
    """Rollup rows (``sketch.ROLLUP_COLUMNS``) plus specs/events/errors, per namespace.

    ``rules``: None detects the recording rules (:mod:`.rules`) and reads them when they
    cover the window; False reads the raw series; True reads the rules' series regardless.
    ``Collected.notes`` says which path was read."""
    step_s = step.total_seconds()
    if step_s <= 0 or DAY % step_s:
        raise InputError("--step must divide a day (e.g. 30s, 1m, 5m) in aggregate mode")
    extra = check_selector(selector)
    out = Collected()
    run = QueryRun(client, out.errors, max_concurrency, max_samples, budget)
    if rules is not False:
        end = align_end(now, RULE_STEP)
        start = end - math.floor(window.total_seconds() / RULE_STEP) * RULE_STEP
        found, note = rules_cover(run, start, end, extra)
        rules = found if rules is None else True
        out.notes.append(note)
    cpu_of: Callable[[str], str]
    mem_of: Callable[[str], str]
    if rules:
        step_s, metric = RULE_STEP, MEM_5M
        cpu_of, mem_of = cpu_rule_expr, memory_rule_expr
    else:
        rw, metric = default_rate_window(step_s), "container_memory_working_set_bytes"
        cpu_of, mem_of = (lambda g: cpu_expr(g, rw)), memory_expr
    end = align_end(now, step_s)
    start = end - math.floor(window.total_seconds() / step_s) * step_s
    names = [namespace] if namespace else discover_namespaces(
        run, cadvisor_selector(None, extra), start, end, metric)
    parts = []
    for ns in names or []:
        if run.dead is not None:
            out.errors.append(f"not read (server stopped answering): namespace {ns}")
            continue
        sel = cadvisor_selector(ns, extra)
        pods = namespace_pods(run, ns, sel, start, end, metric)
        rows = _namespace_rollups(run, ns, sel, pods, (cpu_of, mem_of), start, end, step_s)
        owners, resources, events = prom.namespace_context(run, ns, sel, start, end, step_s,
                                                           pods)
        if not resources.empty:
            out.specs = pd.concat([out.specs, prom.specs_rows(resources, owners)],
                                  ignore_index=True) if not out.specs.empty else \
                prom.specs_rows(resources, owners)
        out.events = pd.concat([out.events, events], ignore_index=True) if not events.empty \
            else out.events
        if rows.empty:
            continue
        if not resources.empty:
            rows = rows.merge(resources, on=pp.KEY, how="left")
        parts.append(pp.apply_workloads(rows, owners))
    out.notes.extend(run.notes())
    if not parts:
        return sketch.empty_rollup(), out
    return merge_pods(pd.concat(parts, ignore_index=True)), out


def _namespace_rollups(run: QueryRun, ns: str, sel: str, pods: Pods | None,
                       exprs: tuple[Callable[[str], str], Callable[[str], str]],
                       start: float, end: float, step_s: float) -> pd.DataFrame:
    step = promql_duration(step_s)
    cpu_of, mem_of = exprs
    q = {col: period for col, (_, _, period) in daily_queries("", "").items()}

    def fetch(col: str) -> pd.DataFrame:
        parts = []
        for lo, hi, span in evaluations(start, end, q[col], step_s):
            sub = f"[{int(round(span * 1000)) + 1}ms:{step}]"

            def expr(g: str, sub: str = sub) -> str:
                fn, inner, _ = daily_queries(cpu_of(g), mem_of(g))[col]
                return f"{fn}_over_time(({inner}){sub})"

            # A piece by time is whole periods: one evaluation per day (or hour) it holds.
            parts.append(Fetch(run, f"{ns}: {col} (aggregate)", expr, sel, q[col],
                               Shape(COST["rollup"], step_s, span, fixed=FIXED["rollup"]))(
                                   pods, lo, hi))
        df = pd.concat(parts, ignore_index=True)
        for label in (*pp.KEY, "b"):
            if label not in df.columns:
                df[label] = ""
        df = df[df["container"].ne("") & df["namespace"].ne("")]
        return df.assign(day=df["timestamp"].dt.floor("D"))

    frames = dict(zip(q, run.all([bind(fetch, col) for col in q]), strict=True))
    hists = {}
    for prefix in ("cpu", "mem"):
        hc = frames[f"{prefix}_c"].merge(frames[f"{prefix}_w"], on=[*pp.KEY, "day", "b"],
                                         suffixes=("_c", "_w"), how="left")
        hc = hc.assign(b=hc["b"].astype(float).astype("int64")).sort_values([*pp.KEY, "day", "b"])
        g = hc.groupby([*pp.KEY, "day"], observed=True)
        hists[prefix] = pd.DataFrame({
            f"{prefix}_b": g["b"].agg(list), f"{prefix}_c": g["value_c"].agg(list),
            f"{prefix}_w": g["value_w"].agg(list), "n": g["value_c"].sum(),
            "w_sum": g["value_w"].sum()}).reset_index()
    base = hists["cpu"]
    if base.empty:
        return base
    base = base.merge(hists["mem"].drop(columns=["n", "w_sum"]), on=[*pp.KEY, "day"], how="left")
    for col in ("t_first", "t_last", "cpu_sum", "cpu_max", "cpu_wsum", "mem_sum", "mem_wsum"):
        v = frames[col][[*pp.KEY, "day", "value"]].rename(columns={"value": col})
        base = base.merge(v, on=[*pp.KEY, "day"], how="left")
    base["n"] = base["n"].astype("int64")
    for col in ("t_first", "t_last"):
        base[col] = pd.to_datetime(np.round(base[col].to_numpy() * 1000).astype("int64"),
                                   unit="ms", utc=True)
    hours = frames["mem_hour_max"]
    hours = hours.assign(h=hours["timestamp"].dt.hour)
    hour_arr = {k: np.full(24, np.nan) for k in base[[*pp.KEY, "day"]].itertuples(index=False)}
    for *k, h, v in hours[[*pp.KEY, "day", "h", "value"]].itertuples(index=False):
        if tuple(k) in hour_arr:
            hour_arr[tuple(k)][h] = v  # type: ignore[index]
    base["mem_hour_max"] = pd.Series(
        [hour_arr[k] for k in base[[*pp.KEY, "day"]].itertuples(index=False)], index=base.index)
    base["mem_max"] = [float(np.nanmax(a)) if not np.isnan(a).all() else np.nan
                       for a in base["mem_hour_max"]]
    return base


def merge_pods(rows: pd.DataFrame) -> pd.DataFrame:
    """One rollup row per (namespace, workload, container, pod, day), as
    :func:`sketch.daily_rollup` groups samples (series of one pod's container merge)."""
    rows = rows.sort_values("t_last", kind="stable")
    keys = [*sketch.POD_KEY, "day"]
    out = []
    for key, g in rows.groupby(keys, sort=True, observed=True):
        r: dict[str, object] = dict(zip(keys, key, strict=True))
        r["n"] = int(g["n"].sum())
        r["t_first"], r["t_last"] = g["t_first"].min(), g["t_last"].max()
        for col in ("cpu_sum", "cpu_wsum", "w_sum", "mem_sum", "mem_wsum"):
            r[col] = float(g[col].sum())
        r["cpu_max"], r["mem_max"] = float(g["cpu_max"].max()), float(g["mem_max"].max())
        hm = np.stack(list(g["mem_hour_max"]))
        r["mem_hour_max"] = np.where(np.isnan(hm).all(axis=0), np.nan,
                                     np.nanmax(np.where(np.isnan(hm), -np.inf, hm), axis=0))
        for prefix in ("cpu", "mem"):
            b = np.concatenate([np.asarray(x, "int64") for x in g[f"{prefix}_b"]])
            u, inv = np.unique(b, return_inverse=True)
            r[f"{prefix}_b"] = u.astype("int16")
            r[f"{prefix}_c"] = np.bincount(inv, np.concatenate(
                [np.asarray(x, "float64") for x in g[f"{prefix}_c"]])).round().astype("int32")
            r[f"{prefix}_w"] = np.bincount(inv, np.concatenate(
                [np.asarray(x, "float64") for x in g[f"{prefix}_w"]]))
        for col in sketch.CURRENT_COLUMNS:  # the pod seen last that day, as the samples say
            v = g[col].dropna() if col in g.columns else pd.Series(dtype=float)
            r[col] = float(v.iloc[-1]) if len(v) else np.nan
        r["restarts"] = np.nan
        r["platform"] = "kubernetes"
        out.append(r)
    return pd.DataFrame(out)[sketch.ROLLUP_COLUMNS]
