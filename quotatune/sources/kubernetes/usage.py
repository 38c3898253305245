"""Pure parsers for Kubernetes usage payloads into the canonical usage frame.

- kubelet ``/stats/summary``: ``cpu.usageNanoCores`` is already a rate; ``memory.workingSetBytes``.
- metrics.k8s.io ``PodMetricsList``: quantities such as ``"704595n"`` cores and ``"24716Ki"``.
- kubelet ``/metrics/cadvisor`` and ``/metrics/resource`` (Prometheus text): CPU is a
  cumulative counter, so a rate needs two scrapes (``previous``); with one scrape the rate is
  the average since the container started (``container_start_time_seconds``), and rows whose
  rate cannot be known are left out and counted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Container, Iterator, Mapping
from typing import Any, NamedTuple

import pandas as pd

from quotatune import model
from quotatune.model import units
from quotatune.model.errors import InputError
from quotatune.sources.kubernetes.fields import as_dict, as_list, as_str, as_time
from quotatune.sources.kubernetes.owners import Owner, workload_of
from quotatune.sources.kubernetes.parse import items_of

Owners = Mapping[tuple[str, str], Owner]


def _usage_frame(rows: list[dict[str, Any]], what: str) -> pd.DataFrame:
    if not rows:
        return model.empty_usage()
    df = pd.DataFrame(rows)
    return model.validate_usage(df, what, row_offset=0)


def _row(ts: pd.Timestamp, ns: str, pod: str, container: str, cpu: float, mem: float,
         owners: Owners | None, node: str) -> dict[str, Any]:
    owner = workload_of(pod, owners or {}, ns)
    return {"timestamp": ts, "namespace": ns, "workload": owner.name, "pod": pod,
            "container": container, "cpu_cores": cpu, "memory_working_set_bytes": mem,
            "workload_kind": owner.kind, "node": node, "platform": "kubernetes"}


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) and f >= 0 else None


def parse_stats_summary(
    summary: Any, now: pd.Timestamp | None = None, *, owners: Owners | None = None,
    what: str = "stats summary",
) -> pd.DataFrame:
    """kubelet ``/stats/summary`` -> usage rows, one per container that reports CPU and memory.

    The sample time is the container's own ``cpu.time`` (else ``memory.time``, else ``now``).
    Containers that have not reported yet (no ``usageNanoCores``) are skipped.
    """
    if not isinstance(summary, Mapping) or not isinstance(summary.get("pods"), list | None):
        raise InputError(f"{what}: not a kubelet /stats/summary payload (no 'pods' list)")
    node = as_str(as_dict(summary.get("node")).get("nodeName"))
    rows: list[dict[str, Any]] = []
    for pod in as_list(summary.get("pods")):
        ref = as_dict(as_dict(pod).get("podRef"))
        ns, name = as_str(ref.get("namespace")), as_str(ref.get("name"))
        if not ns or not name:
            continue
        for c in as_list(as_dict(pod).get("containers")):
            c = as_dict(c)
            cpu, mem = as_dict(c.get("cpu")), as_dict(c.get("memory"))
            nano, ws = _number(cpu.get("usageNanoCores")), _number(mem.get("workingSetBytes"))
            if nano is None or ws is None or not as_str(c.get("name")):
                continue
            ts = as_time(cpu.get("time"))
            if pd.isna(ts):
                ts = as_time(mem.get("time"))
            if pd.isna(ts):
                if now is None:
                    continue
                ts = now
            rows.append(_row(ts, ns, name, as_str(c.get("name")), nano / 1e9, ws, owners, node))
    return _usage_frame(rows, what)


def parse_pod_metrics(
    metrics: Any, *, owners: Owners | None = None, what: str = "metrics.k8s.io"
) -> pd.DataFrame:
    """metrics.k8s.io ``PodMetricsList`` (or one ``PodMetrics``) -> usage rows."""
    rows: list[dict[str, Any]] = []
    for item in items_of(metrics, what, ("PodMetrics",)):
        meta = as_dict(item.get("metadata"))
        ns, pod = as_str(meta.get("namespace")), as_str(meta.get("name"))
        ts = as_time(item.get("timestamp"))
        if not ns or not pod or pd.isna(ts):
            raise InputError(f"{what}: pod metrics without namespace, name or timestamp")
        for c in as_list(item.get("containers")):
            usage = as_dict(as_dict(c).get("usage"))
            try:
                cpu = float(units.parse_quantity(usage.get("cpu", "")))
                mem = float(units.memory_quantity_to_bytes(usage.get("memory", "")))
            except InputError as exc:
                raise InputError(f"{what}: pod {ns}/{pod}: {exc}") from None
            rows.append(_row(ts, ns, pod, as_str(as_dict(c).get("name")), cpu, mem, owners, ""))
    return _usage_frame(rows, what)


# --- Prometheus text exposition (kubelet /metrics/cadvisor and /metrics/resource) -----------

_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)"
    r"(?:\s+(?P<ts>-?\d+))?\s*$"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*')
_WANTED = ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
           "container_start_time_seconds")


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]
    value: float
    ts_ms: float | None


def iter_samples(text: str, what: str, names: Container[str]) -> Iterator[Sample]:
    """The finite samples of the series in ``names`` from Prometheus text exposition.

    Every non-comment line must be a sample (else one InputError naming the line); a text
    with no sample at all is an InputError too.
    """
    if not isinstance(text, str):
        raise InputError(f"{what}: expected Prometheus text")
    parsed = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise InputError(f"{what}: line {lineno}: not a Prometheus sample: {line[:60]!r}")
        parsed += 1
        if m.group("name") not in names:
            continue
        try:
            value = float(m.group("value"))
        except ValueError:
            bad = m.group("value")[:30]
            raise InputError(f"{what}: line {lineno}: bad value {bad!r}") from None
        if math.isfinite(value):
            ts = float(m.group("ts")) if m.group("ts") else None
            yield Sample(m.group("name"), dict(_LABEL.findall(m.group("labels") or "")), value,
                         ts)
    if parsed == 0:
        raise InputError(f"{what}: no Prometheus samples")


def parse_prometheus_samples(text: str, what: str = "metrics") -> pd.DataFrame:
    """Per-container samples of the three series we need, one row per (ns, pod, container).

    Pod-level and cgroup-hierarchy series (empty ``container`` label, or the pause container
    ``POD``) are skipped; so are samples whose value is not a finite number.
    """
    data: dict[tuple[str, str, str], dict[str, float]] = {}
    for smp in iter_samples(text, what, _WANTED):
        labels = smp.labels
        key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
        if not all(key) or key[2] == "POD":
            continue
        d = data.setdefault(key, {})
        d[smp.name] = smp.value
        if smp.ts_ms is not None and smp.name != "container_start_time_seconds":
            d["ts_ms"] = max(d.get("ts_ms", 0.0), smp.ts_ms)
    rows = [{"namespace": k[0], "pod": k[1], "container": k[2], **v} for k, v in data.items()]
    return pd.DataFrame(rows)


def parse_prometheus_usage(
    text: str, now: pd.Timestamp, *, previous: str | None = None,
    previous_time: pd.Timestamp | None = None, owners: Owners | None = None,
    what: str = "metrics", skipped: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """``/metrics/cadvisor`` or ``/metrics/resource`` text -> usage rows.

    CPU rate = counter delta / time delta against ``previous`` (an earlier scrape) when given,
    else counter / seconds since the container started.  ``now`` is the scrape time for
    samples without their own timestamp.  ``skipped(n)`` is told how many rows had no rate.
    """
    cur = parse_prometheus_samples(text, what)
    prev = parse_prometheus_samples(previous, what) if previous is not None else None
    before: dict[tuple[str, str, str], dict[str, Any]] = {}
    if prev is not None and not prev.empty:
        before = {(str(r["namespace"]), str(r["pod"]), str(r["container"])): _rec(r)
                  for r in prev.to_dict("records")}
    rows: list[dict[str, Any]] = []
    lost = 0
    records: list[dict[str, Any]] = [_rec(r) for r in cur.to_dict("records")] if not cur.empty \
        else []
    for r in records:
        cpu_total = r.get("container_cpu_usage_seconds_total")
        mem = r.get("container_memory_working_set_bytes")
        if not isinstance(cpu_total, float) or not isinstance(mem, float) or math.isnan(
                cpu_total) or math.isnan(mem):
            lost += 1
            continue
        ts = _ms_time(r.get("ts_ms"), now)
        if ts is None:  # a corrupt sample time: the sample cannot be placed
            lost += 1
            continue
        rate = _rate(r, before.get((r["namespace"], r["pod"], r["container"])), ts,
                     previous_time)
        if rate is None:
            lost += 1
            continue
        rows.append(_row(ts, r["namespace"], r["pod"], r["container"], rate, mem, owners, ""))
    if skipped is not None:
        skipped(lost)
    return _usage_frame(rows, what)


def _rec(r: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in r.items()}


# Timestamps pandas can hold: 1970 .. 2262 in milliseconds.
_MAX_MS = 9.2e15


def _ms_time(ms: Any, default: pd.Timestamp | None) -> pd.Timestamp | None:
    """An exposition-format sample time (ms), ``default`` when absent, None when absurd."""
    if not isinstance(ms, float) or math.isnan(ms):
        return default
    if not 0 <= ms < _MAX_MS:
        return None
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def _rate(cur: dict[str, Any], prev: dict[str, Any] | None, ts: pd.Timestamp,
          previous_time: pd.Timestamp | None) -> float | None:
    total = float(cur["container_cpu_usage_seconds_total"])
    if prev is not None and isinstance(prev.get("container_cpu_usage_seconds_total"), float):
        t0 = _ms_time(prev.get("ts_ms"), previous_time)
        delta = total - float(prev["container_cpu_usage_seconds_total"])
        if t0 is not None and (ts - t0).total_seconds() > 0 and delta >= 0:
            return delta / (ts - t0).total_seconds()
        # a counter reset (container restarted) falls through to the since-start average
    start = cur.get("container_start_time_seconds")
    if isinstance(start, float) and not math.isnan(start):
        up = ts.timestamp() - start
        if up > 0:
            return total / up
    return None
