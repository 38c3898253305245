"""From loaded frames to the report's HTML: recommend, diagnose, plan capacity, render.

Pure (no I/O, the clock is ``now``): the CLI loads the frames and writes the result, the
benchmark times exactly this function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from quotatune.model import Finding, Recommendation
from quotatune.model.collected import Collected


@dataclass(frozen=True)
class ReportOutcome:
    html: str
    recommendations: list[Recommendation]
    findings: list[Finding]
    timings: dict[str, float]  # seconds per step, for the benchmark


def build_report(data: Collected, *, target: str, now: datetime, strategy: str | None = None,
                 top: int = 20, nodes: pd.DataFrame | None = None,
                 shapes: list[str] | None = None, clock: Any = None,
                 since: timedelta | None = None) -> ReportOutcome:
    """``clock`` (e.g. ``time.perf_counter``) only times the steps; it never changes output.
    Failures before ``now - since`` are history (info); ``since`` None keeps them all."""
    from quotatune.analysis.capacity.plan import parse_shape, plan_capacity
    from quotatune.analysis.findings.diagnose import diagnose
    from quotatune.analysis.recommend import get_strategy, recommend
    from quotatune.model.errors import InputError
    from quotatune.pipelines.diagnose import policy_for
    from quotatune.render.html.report import render_report
    from quotatune.render.html.view import ReportInputs

    tick = clock or (lambda: 0.0)
    timings: dict[str, float] = {}
    t = tick()

    def lap(name: str) -> None:
        nonlocal t
        t2 = tick()
        timings[name] = t2 - t
        t = t2

    strat = get_strategy(strategy)
    node_shapes = [parse_shape(s) for s in shapes or []]
    recs = recommend(data.usage, data.specs, data.events, strategy=strat.name)
    lap("recommend")
    findings = diagnose(data.usage, data.specs, data.events, now=pd.Timestamp(now),
                        policy=policy_for(pd.Timestamp(now), since))
    lap("diagnose")
    notes = list(data.notes)
    try:
        capacity = plan_capacity(recs, data.specs, nodes, node_shapes, events=data.events)
    except InputError as exc:  # a plan that cannot be made is a note, not a failed report
        capacity = None
        notes.append(f"capacity planning did not run: {exc}")
    lap("capacity")
    html = render_report(ReportInputs(
        usage=data.usage, specs=data.specs, events=data.events, recommendations=recs,
        findings=findings, strategy=strat.name, strategy_description=strat.summary,
        target=target, generated_at=now, errors=tuple(data.errors), notes=tuple(notes),
        top=top, capacity=capacity,
    ))
    lap("render")
    return ReportOutcome(html, recs, findings, timings)
