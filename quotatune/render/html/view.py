"""The report's view model: frames + results -> plain values a template can print.

Pure: no I/O, no clock (``generated_at`` is passed in).  Everything a person reads in the
report is computed here, so it can be tested without a browser; ``html.py`` only prints it
and ``charts.py`` draws the charted containers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from quotatune.model import SEVERITIES, ContainerKey, Finding, Recommendation
from quotatune.render.html.stats import KeyIndex, container_stats

GIB_PER_MIB = 1 / 1024


@dataclass(frozen=True)
class ReportInputs:
    usage: pd.DataFrame
    specs: pd.DataFrame
    events: pd.DataFrame
    recommendations: list[Recommendation]
    findings: list[Finding] | None  # None: diagnosis did not run (said so in the report)
    strategy: str
    strategy_description: str
    target: str
    generated_at: datetime
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    top: int = 20
    capacity: Any = None  # the capacity plan, when capacity planning ran
    diagnosis_note: str | None = None
    # Per-container statistics accumulated from a store (stats.StatsBuilder); ``usage`` then
    # holds only the charted containers' samples.
    stats: pd.DataFrame | None = None


@dataclass
class ContainerView:
    namespace: str
    workload: str
    container: str
    anchor: str
    rec: Recommendation | None
    samples: int = 0
    pods: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    step_s: float | None = None
    complete: float | None = None  # share of expected samples present in its own span
    span_share: float | None = None  # share of the report window its history spans
    cpu_p95_m: int | None = None
    cpu_max_m: int | None = None
    mem_max_mib: int | None = None
    severity_counts: dict[str, int] = field(default_factory=dict)
    worst: str | None = None
    oom_kills: int = 0
    restarts: int = 0
    charted: bool = False

    @property
    def name(self) -> str:
        return f"{self.namespace}/{self.workload}/{self.container}"

    @property
    def key(self) -> ContainerKey:
        return ContainerKey(self.namespace, self.workload, self.container)


@dataclass
class Totals:
    """Sums over a set of containers; "freed" only where both current and recommended are known."""

    name: str = ""
    containers: int = 0
    with_current: int = 0
    cpu_current: float = 0.0  # cores
    cpu_recommended: float = 0.0
    cpu_freed: float = 0.0
    cpu_added: float = 0.0
    mem_current: float = 0.0  # GiB
    mem_recommended: float = 0.0
    mem_freed: float = 0.0
    mem_added: float = 0.0
    severity_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))

    @property
    def cpu_net(self) -> float:
        return self.cpu_freed - self.cpu_added

    @property
    def mem_net(self) -> float:
        return self.mem_freed - self.mem_added

    def add(self, c: ContainerView) -> None:
        self.containers += 1
        for sev, n in c.severity_counts.items():
            self.severity_counts[sev] = self.severity_counts.get(sev, 0) + n
        r = c.rec
        if r is None:
            return
        cur_cpu, cur_mem = r.current.cpu_request_millicores, r.current.memory_request_mib
        if r.cpu_request_millicores is not None:
            self.cpu_recommended += r.cpu_request_millicores / 1000
        if r.memory_request_mib is not None:
            self.mem_recommended += r.memory_request_mib * GIB_PER_MIB
        if cur_cpu is not None:
            self.cpu_current += cur_cpu / 1000
        if cur_mem is not None:
            self.mem_current += cur_mem * GIB_PER_MIB
        if cur_cpu is not None or cur_mem is not None:
            self.with_current += 1
        if cur_cpu is not None and r.cpu_request_millicores is not None:
            d = (cur_cpu - r.cpu_request_millicores) / 1000
            self.cpu_freed += max(d, 0.0)
            self.cpu_added += max(-d, 0.0)
        if cur_mem is not None and r.memory_request_mib is not None:
            d = (cur_mem - r.memory_request_mib) * GIB_PER_MIB
            self.mem_freed += max(d, 0.0)
            self.mem_added += max(-d, 0.0)


@dataclass
class ReportView:
    inputs: ReportInputs
    containers: list[ContainerView]
    summary: Totals
    namespaces: list[Totals]
    workloads: list[Totals]
    findings: list[Finding]
    window_start: pd.Timestamp | None
    window_end: pd.Timestamp | None
    median_step_s: float | None
    statuses: dict[str, int]
    charted: list[ContainerView] = field(default_factory=list)  # most important first
    index: KeyIndex | None = None  # row positions per container, for the charts


def anchor_for(key: ContainerKey, index: int) -> str:
    # Names may hold anything; the anchor only needs to be unique and safe in an id.
    return f"c{index}"


def _events_by_key(events: pd.DataFrame) -> tuple[Counter[ContainerKey], Counter[ContainerKey]]:
    ooms: Counter[ContainerKey] = Counter()
    restarts: Counter[ContainerKey] = Counter()
    if events.empty:
        return ooms, restarts
    for row in events.itertuples(index=False):
        key = ContainerKey(str(row.namespace), str(row.workload), str(row.container))
        if is_oom(row):
            ooms[key] += 1
        elif getattr(row, "kind", "") == "termination":
            restarts[key] += 1
    return ooms, restarts


def is_missing(v: Any) -> bool:
    """None, NaN, NaT or pd.NA (event columns hold any of them)."""
    try:
        return v is None or v is pd.NA or v is pd.NaT or bool(v != v)
    except (TypeError, ValueError):
        return False


def is_oom(row: Any) -> bool:
    killed = getattr(row, "oom_killed", None)
    return (
        (isinstance(killed, bool | np.bool_) and bool(killed))
        or str(getattr(row, "reason", "")) == "OOMKilled"
        or str(getattr(row, "kind", "")) == "oom-event"
    )


def _ceil(x: float, scale: float) -> int | None:
    return None if pd.isna(x) else int(np.ceil(round(float(x) * scale, 6)))


def build_view(inp: ReportInputs) -> ReportView:
    index = KeyIndex(inp.usage) if not inp.usage.empty else None
    stats = container_stats(inp.usage, index) if inp.stats is None else inp.stats
    by_key = {ContainerKey(*k): row for k, row in zip(
        stats.index, stats.to_dict("records"), strict=True)} if not stats.empty else {}
    recs = {r.key: r for r in inp.recommendations}
    keys = list(dict.fromkeys([*recs, *(ContainerKey(*k) for k in stats.index)]))
    keys.sort(key=lambda k: (k.namespace, k.workload, k.container))
    findings = sorted(inp.findings or [], key=lambda f: (-SEVERITIES.index(f.severity)
                                                         if f.severity in SEVERITIES else 0,
                                                         f.namespace, f.workload, f.container))
    sev_by_key: dict[ContainerKey, Counter[str]] = {}
    for f in findings:
        sev_by_key.setdefault(ContainerKey(f.namespace, f.workload, f.container), Counter())[
            f.severity
        ] += 1
    ooms, restarts = _events_by_key(inp.events)
    window_start = stats["first"].min() if not stats.empty else None
    window_end = stats["last"].max() if not stats.empty else None
    window_s = (window_end - window_start).total_seconds() if window_start is not None else 0
    containers: list[ContainerView] = []
    for i, key in enumerate(keys):
        c = ContainerView(*key, anchor=anchor_for(key, i), rec=recs.get(key))
        st = by_key.get(key)
        if st is not None:
            c.samples, c.pods = int(st["samples"]), int(st["pods"])
            c.first, c.last = st["first"], st["last"]
            c.step_s = None if pd.isna(st["step_s"]) else float(st["step_s"])
            c.complete = None if pd.isna(st["complete"]) else float(st["complete"])
            if window_s > 0:
                c.span_share = (c.last - c.first).total_seconds() / window_s
            c.cpu_p95_m = _ceil(st["cpu_p95"], 1000)
            c.cpu_max_m = _ceil(st["cpu_max"], 1000)
            c.mem_max_mib = _ceil(st["mem_max"], 1 / 2**20)
        counts = sev_by_key.get(key, Counter())
        c.severity_counts = {s: counts.get(s, 0) for s in SEVERITIES}
        present = [s for s in SEVERITIES if counts.get(s)]
        c.worst = present[-1] if present else None
        c.oom_kills, c.restarts = ooms.get(key, 0), restarts.get(key, 0)
        containers.append(c)
    charted = pick_charted(containers, inp.top)
    for c in charted:
        c.charted = True
    summary = Totals(name="all")
    ns: dict[str, Totals] = {}
    wl: dict[tuple[str, str], Totals] = {}
    for c in containers:
        summary.add(c)
        ns.setdefault(c.namespace, Totals(name=c.namespace)).add(c)
        wl.setdefault((c.namespace, c.workload), Totals(name=f"{c.namespace}/{c.workload}")).add(c)
    step = float(stats["step_s"].median()) if not stats.empty else None
    return ReportView(
        inputs=inp, containers=containers, summary=summary,
        namespaces=sorted(ns.values(), key=lambda t: -t.cpu_current),
        workloads=sorted(wl.values(), key=lambda t: -t.cpu_current),
        findings=findings, window_start=window_start, window_end=window_end,
        median_step_s=None if step is None or np.isnan(step) else step,
        statuses=dict(Counter(c.rec.status if c.rec else "no-recommendation"
                              for c in containers)),
        charted=charted, index=index,
    )


def pick_charted(containers: list[ContainerView], top: int) -> list[ContainerView]:
    """The ``top`` containers worth a chart: worst findings first, then the largest change
    relative to the fleet (CPU and memory weighted by their share of the fleet totals)."""
    if top <= 0:
        return []
    tot_cpu = sum(abs(_delta(c, "cpu")) for c in containers) or 1.0
    tot_mem = sum(abs(_delta(c, "mem")) for c in containers) or 1.0

    def score(c: ContainerView) -> tuple[int, int, float]:
        worst = SEVERITIES.index(c.worst) + 1 if c.worst in SEVERITIES else 0
        change = abs(_delta(c, "cpu")) / tot_cpu + abs(_delta(c, "mem")) / tot_mem
        return (worst, c.oom_kills, change)

    with_data = [c for c in containers if c.samples > 0]
    return sorted(with_data, key=score, reverse=True)[:top]


def _delta(c: ContainerView, what: str) -> float:
    r = c.rec
    if r is None:
        return 0.0
    if what == "cpu":
        cur, rec = r.current.cpu_request_millicores, r.cpu_request_millicores
    else:
        cur, rec = r.current.memory_request_mib, r.memory_request_mib
    if cur is None or rec is None:
        # Without a current value the recommendation itself is the change.
        return float(rec or 0)
    return float(cur - rec)
