"""From loaded frames, or a history store, to the report's HTML: recommend, diagnose, plan
capacity, render.

Pure apart from reading the store (the clock is ``now``): the CLI writes the result, the
benchmark times exactly these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from quotatune.model import Finding, Recommendation
from quotatune.model.collected import Collected

if TYPE_CHECKING:
    from quotatune.pipelines.stored import Stored


@dataclass(frozen=True)
class ReportOutcome:
    html: str
    recommendations: list[Recommendation]
    findings: list[Finding]
    timings: dict[str, float]  # seconds per step, for the benchmark


class _Laps:
    def __init__(self, clock: Any) -> None:
        self.tick = clock or (lambda: 0.0)
        self.timings: dict[str, float] = {}
        self.t = self.tick()

    def __call__(self, name: str) -> None:
        t2 = self.tick()
        self.timings[name] = t2 - self.t
        self.t = t2


def build_report(data: Collected, *, target: str, now: datetime, strategy: str | None = None,
                 top: int = 20, nodes: pd.DataFrame | None = None,
                 shapes: list[str] | None = None, clock: Any = None,
                 since: timedelta | None = None) -> ReportOutcome:
    """``clock`` (e.g. ``time.perf_counter``) only times the steps; it never changes output.
    Failures before ``now - since`` are history (info); ``since`` None keeps them all."""
    from quotatune.analysis.findings.diagnose import diagnose
    from quotatune.analysis.recommend import get_strategy, recommend
    from quotatune.pipelines.diagnose import policy_for

    lap = _Laps(clock)
    strat = get_strategy(strategy)
    recs = recommend(data.usage, data.specs, data.events, strategy=strat.name)
    lap("recommend")
    findings = diagnose(data.usage, data.specs, data.events, now=pd.Timestamp(now),
                        policy=policy_for(pd.Timestamp(now), since))
    lap("diagnose")
    inputs = _inputs(data, recs, findings, strategy, target, now, top, nodes, shapes)
    lap("capacity")
    return _render(inputs, lap)


def build_stored_report(s: Stored, *, now: datetime, strategy: str | None = None,
                        top: int = 20, nodes: pd.DataFrame | None = None,
                        shapes: list[str] | None = None, clock: Any = None,
                        since: timedelta | None = None, on_day: Any = None) -> ReportOutcome:
    """The same report from a store without loading every sample: recommendations from the
    rollups, findings and per-container statistics from one read of each day, raw samples
    only for the charted containers."""
    from quotatune.analysis.recommend import get_strategy
    from quotatune.pipelines.diagnose import policy_for
    from quotatune.pipelines.stored import (
        diagnose_stored,
        p95_buckets,
        raw_usage,
        read_rollups,
        recommendations,
    )
    from quotatune.render.html.stats import StatsBuilder
    from quotatune.render.html.view import build_view

    lap = _Laps(clock)
    strat = get_strategy(strategy)
    rollups = read_rollups(s, strat.name, ["cpu_b", "cpu_c"])
    recs = recommendations(s, strat.name, rollups)
    stats = StatsBuilder(p95_buckets(rollups))
    del rollups
    lap("recommend")
    findings = diagnose_stored(s, now=pd.Timestamp(now),
                               policy=policy_for(pd.Timestamp(now), since),
                               hooks=([stats.add_day], StatsBuilder.COLUMNS), on_day=on_day)
    lap("diagnose")
    data = Collected(specs=s.specs, events=s.events, notes=list(s.notes), errors=list(s.errors))
    inputs = replace(_inputs(data, recs, findings, strategy, str(s.target), now, top, nodes,
                             shapes), stats=stats.stats())
    lap("capacity")
    charted = [c.key for c in build_view(inputs).charted]
    inputs = replace(inputs, usage=raw_usage(s, charted))
    lap("charted samples")
    return _render(inputs, lap)


def _inputs(data: Collected, recs: list[Recommendation], findings: list[Finding],
            strategy: str | None, target: str, now: datetime, top: int,
            nodes: pd.DataFrame | None, shapes: list[str] | None) -> Any:
    from quotatune.analysis.capacity.plan import parse_shape, plan_capacity
    from quotatune.analysis.recommend import get_strategy
    from quotatune.model.errors import InputError
    from quotatune.render.html.view import ReportInputs

    strat = get_strategy(strategy)
    node_shapes = [parse_shape(x) for x in shapes or []]  # a bad shape is the user's error
    notes = list(data.notes)
    try:
        capacity = plan_capacity(recs, data.specs, nodes, node_shapes, events=data.events)
    except InputError as exc:  # a plan that cannot be made is a note, not a failed report
        capacity = None
        notes.append(f"capacity planning did not run: {exc}")
    return ReportInputs(
        usage=data.usage, specs=data.specs, events=data.events, recommendations=recs,
        findings=findings, strategy=strat.name, strategy_description=strat.summary,
        target=target, generated_at=now, errors=tuple(data.errors), notes=tuple(notes),
        top=top, capacity=capacity,
    )


def _render(inputs: Any, lap: _Laps) -> ReportOutcome:
    from quotatune.render.html.report import render_report

    html = render_report(inputs)
    lap("render")
    return ReportOutcome(html, inputs.recommendations, list(inputs.findings or []),
                         lap.timings)
