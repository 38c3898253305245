"""Recording rules: when Prometheus (or a Thanos / Mimir ruler) records the 5-minute series of
``deploy/prometheus/quotatune-rules.yaml``, aggregate mode reads those instead of evaluating
``rate()`` and per-minute subqueries over the raw cAdvisor series.

One cheap probe says whether they are there: the count of each recorded series by name, just
after the start of the window and at its end (two instant lookups of the latest sample).
Both names at both ends: the rules cover the window.  Otherwise the raw series are read, and
the notes say why.

What changes with them (the "documented resolution"): the rollup is made of 5-minute points
instead of ``--step`` points.  A CPU point is the mean rate over its 5 minutes (as ``rate()``
estimates it), so the CPU used over a day is the same to within that estimate while the CPU
histogram, maximum and percentiles are those of 5-minute means (no higher than the
per-minute ones); a memory point is the peak of its 5 minutes, so the memory peaks are the
raw peaks (a peak in the last 5 minutes before a day or hour boundary may count for the next
one) and the memory histogram is of 5-minute peaks (no lower than the per-minute one).
Rules are evaluated at their own offset within each 5 minutes; a recorded point is read at
the next multiple of 5 minutes, and belongs to that instant's day and hour.
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
    """The names recorded at the evaluation time (``at="end"``) and ``span_s`` before it
    (``at="start"``), in one query."""
    names = f'{{__name__=~"{CPU_5M}|{MEM_5M}"}}'
    now = f'label_replace(count by (__name__) ({names}), "at", "end", "", "")'
    then = (f'label_replace(count by (__name__) ({names} offset {promql_duration(span_s)}), '
            f'"at", "start", "", "")')
    return f"{now} or {then}"


def rules_cover(run: QueryRun, start: float, end: float, selector: str) -> tuple[bool, str]:
    """(use the recorded series?, the note that says which path and why)."""
    if selector:
        return False, ("recording rules not used: --selector matches labels of the raw "
                       "cAdvisor series, which the recorded series do not carry")
    # The first recorded point may come up to one interval after the window starts.
    span = max(0.0, end - start - RULE_STEP)
    found = run.ask("recording rules probe", bind(run.client.query, probe_expr(span), end),
                    pp.parse_prom_vector, quiet=True)
    seen = set() if found is None or not {"__name__", "at"} <= set(found.columns) else \
        set(zip(found["__name__"], found["at"], strict=True))
    if {(n, at) for n in (CPU_5M, MEM_5M) for at in ("start", "end")} <= seen:
        return True, (f"read the recording rules' 5-minute series ({CPU_5M}, {MEM_5M}): "
                      "CPU as 5-minute means, memory as 5-minute peaks")
    if seen:
        return False, ("recording rules cover only part of the window (or record only one "
                       "of the two series): read the raw cAdvisor series")
    return False, "no recording rules found: read the raw cAdvisor series"
