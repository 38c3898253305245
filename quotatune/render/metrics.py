"""Recommendations and findings as Prometheus metric families, in base units (cores, bytes,
seconds) as the Prometheus naming conventions ask; ``quotatune serve`` exposes them.

Pure (docs/architecture.md, "Layers"): values in, ``prometheus_client`` metric families out;
the exposition format and the escaping of label values are the library's.  A value that is not
known (no current limit, no recommendation) is left out, never exported as 0: a 0 would read as
"recommends nothing" on a dashboard and fire "limit below recommended" alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from quotatune.model import Finding, Recommendation

MIB = 1 << 20
SIZE_LABELS = ("namespace", "workload", "container", "strategy")
FINDING_LABELS = ("namespace", "workload", "container", "kind", "severity")


def _cores(millicores: Any) -> float | None:
    return None if millicores is None else millicores / 1000


def _bytes(mib: Any) -> float | None:
    return None if mib is None else float(mib * MIB)


# name -> (HELP, the value from a recommendation's JSON, None where unknown)
SIZING: dict[str, tuple[str, Callable[[dict[str, Any]], float | None]]] = {
    "quotatune_recommended_cpu_request_cores": (
        "CPU request quotatune recommends for the container, in cores.",
        lambda d: _cores(d["cpu_request_millicores"])),
    "quotatune_recommended_memory_request_bytes": (
        "Memory request quotatune recommends for the container, in bytes.",
        lambda d: _bytes(d["memory_request_mib"])),
    "quotatune_recommended_memory_limit_bytes": (
        "Memory limit quotatune recommends for the container, in bytes.",
        lambda d: _bytes(d["memory_limit_mib"])),
    "quotatune_current_cpu_request_cores": (
        "CPU request the container runs with now, in cores.",
        lambda d: _cores(d["current"]["cpu_request_millicores"])),
    "quotatune_current_memory_request_bytes": (
        "Memory request the container runs with now, in bytes.",
        lambda d: _bytes(d["current"]["memory_request_mib"])),
    "quotatune_current_memory_limit_bytes": (
        "Memory limit the container runs with now, in bytes.",
        lambda d: _bytes(d["current"]["memory_limit_mib"])),
}
FINDINGS = "quotatune_findings"
LAST_REFRESH = "quotatune_last_refresh_timestamp_seconds"
REFRESH_DURATION = "quotatune_refresh_duration_seconds"
REFRESH_ERRORS = "quotatune_refresh_errors"  # a counter: exposed as ..._total
# Every metric name the exporter can expose, as it appears in the text format.
EXPORTED = (*SIZING, FINDINGS, LAST_REFRESH, REFRESH_DURATION, f"{REFRESH_ERRORS}_total")


@dataclass(frozen=True)
class Refresh:
    """When the exported result was computed, and how the refreshes went."""

    finished_at: float | None  # Unix seconds of the last successful refresh; None before it
    duration: float | None  # its wall time in seconds
    errors: int  # refreshes that failed since the start


def sizing_families(recs: Iterable[Recommendation]) -> list[Metric]:
    families = {name: GaugeMetricFamily(name, help_, labels=SIZE_LABELS)
                for name, (help_, _) in SIZING.items()}
    for r in recs:
        d = r.to_dict()  # the JSON of `recommend -o json`: integers, None where unknown
        labels = [d["namespace"], d["workload"], d["container"], d["strategy"]]
        for name, (_, value) in SIZING.items():
            v = value(d)
            if v is not None:
                families[name].add_metric(labels, v)
    return list(families.values())


def findings_family(findings: Iterable[Finding]) -> Metric:
    fam = GaugeMetricFamily(
        FINDINGS, "Findings of this kind and severity for the container (as quotatune "
        "diagnose reports them; what is older than its --since is info).", labels=FINDING_LABELS)
    counts = Counter((f.namespace, f.workload, f.container, f.kind, f.severity)
                     for f in findings)
    for labels, n in sorted(counts.items()):
        fam.add_metric(list(labels), float(n))
    return fam


def refresh_families(refresh: Refresh) -> list[Metric]:
    out: list[Metric] = []
    if refresh.finished_at is not None:
        out.append(GaugeMetricFamily(
            LAST_REFRESH, "Unix time at which the exported values were last computed.",
            value=refresh.finished_at))
    if refresh.duration is not None:
        out.append(GaugeMetricFamily(
            REFRESH_DURATION, "Wall time of the last successful refresh, in seconds.",
            value=refresh.duration))
    out.append(CounterMetricFamily(
        REFRESH_ERRORS, "Refreshes that failed (the previous values stay exported).",
        value=refresh.errors))
    return out


def metric_families(recs: Iterable[Recommendation], findings: Iterable[Finding],
                    refresh: Refresh) -> list[Metric]:
    """All families of one scrape."""
    return [*sizing_families(recs), findings_family(findings), *refresh_families(refresh)]
