"""Recording rules: when Prometheus (or a Thanos / Mimir ruler) records the 5-minute series of
``deploy/prometheus/quotatune-rules.yaml``, aggregate mode reads those instead of evaluating
``rate()`` and per-minute subqueries over the raw cAdvisor series.

One cheap probe says whether they are there: the count of each recorded series by name, just
after the start of the window and at its end (two instant lookups of the latest sample).
Both names at both ends: the rules cover the window.  Otherwise the raw series are read, and
the notes say why.

What changes with them (the "documented resolution"): the rollup is made of 5-minute points
instead of ``--step`` points.  A CPU point is the mean rate over its 5 minutes, so the daily
CPU sum (and mean) is the same usage while the CPU histogram, maximum and percentiles are
those of 5-minute means (no higher than the per-minute ones); a memory point is the peak of
its 5 minutes, so the daily and hourly memory peaks are the raw peaks (a peak in the last 5
minutes before a day or hour boundary may count for the next one) and the memory histogram
is of 5-minute peaks (no lower than the per-minute one).  A point belongs to the day its
5 minutes end in.
"""

from __future__ import annotations

from quotatune.sources.prometheus import parse as pp
from quotatune.sources.prometheus.queries import BY, promql_duration
from quotatune.sources.prometheus.run import QueryRun, bind

CPU_5M = "namespace_pod_container:container_cpu_usage_seconds:rate5m"
MEM_5M = "namespace_pod_container:container_memory_working_set_bytes:max5m"
RULE_STEP = 300.0  # the rules' evaluation interval: one recorded point per 5 minutes


def cpu_rule_expr(sel: str) -> str:
    return f"sum by ({BY}) ({CPU_5M}{{{sel}}})"


def memory_rule_expr(sel: str) -> str:
    return f"max by ({BY}) ({MEM_5M}{{{sel}}})"


def probe_expr(span_s: float) -> str:
    """Names recorded both ``span_s`` before the evaluation time and at it."""
    names = f'{{__name__=~"{CPU_5M}|{MEM_5M}"}}'
    then = f"count by (__name__) ({names} offset {promql_duration(span_s)})"
    return f"{then} and count by (__name__) ({names})"


def rules_cover(run: QueryRun, start: float, end: float, selector: str) -> tuple[bool, str]:
    """(use the recorded series?, the note that says which path and why)."""
    if selector:
        return False, ("recording rules not used: --selector matches labels of the raw "
                       "cAdvisor series, which the recorded series do not carry")
    # The first recorded point may come up to one interval after the window starts.
    span = max(0.0, end - start - RULE_STEP)
    found = run.ask("recording rules probe", bind(run.client.query, probe_expr(span), end),
                    pp.parse_prom_vector, quiet=True)
    names = set() if found is None or "__name__" not in found.columns else \
        set(found["__name__"])
    if {CPU_5M, MEM_5M} <= names:
        return True, (f"read the recording rules' 5-minute series ({CPU_5M}, {MEM_5M}): "
                      "CPU as 5-minute means, memory as 5-minute peaks")
    if names:
        return False, ("recording rules cover only part of the window (or record only one "
                       "of the two series): read the raw cAdvisor series")
    return False, "no recording rules found: read the raw cAdvisor series"
