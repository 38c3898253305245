"""Bounded query load: every query is planned to fit a samples budget before it is sent, and a
query the server still refuses as too big (too many samples, a timeout) is split by series
(fewer pods) and by time (fewer steps) and sent again, down to one pod and one step.

The budget is in the server's own unit: Prometheus refuses a query whose *peak* of samples
held in memory passes ``--query.max-samples`` (50 M by default).  A range query holds, for
every raw series it selects, one sample per evaluated point, and its result as many again;
a subquery adds the points of its span.  :class:`Shape` says how each of our queries grows,
measured against Prometheus 2.42's ``stats=all`` (``peakSamples``): see ``SHAPES``.

Splitting never changes a result: every query here keeps the ``pod`` label (pieces by pod are
disjoint series) and range queries evaluate the same step-aligned instants whatever the
chunking (pieces by time are disjoint points); the pieces are concatenated.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from quotatune.sources.prometheus import parse as pp
from quotatune.sources.prometheus.client import TooBig
from quotatune.sources.prometheus.queries import MAX_POINTS, regex_alt, time_chunks

if TYPE_CHECKING:
    from quotatune.sources.prometheus.run import QueryRun

MAX_SAMPLES = 5_000_000  # per query: a tenth of Prometheus' default --query.max-samples
MIN_CEILING = 100  # the learned ceiling never drops below this many samples
MAX_ROUNDS = 16  # a refused query is split at most this many times over (each halves it)
POINT_BUDGET = 1_000_000  # points per response, at most (about 25 MB of JSON)
MAX_PODS = 500  # pods per query: the regex of pod names stays a few kB
UNKNOWN_WEIGHT = 100  # series assumed behind a selector whose pods could not be listed

# Peak samples per raw series (a pod's cAdvisor memory series) and evaluated point, as
# Prometheus 2.42 reports them (``stats=all``: ``peakSamples``): a range query holds its
# selector's matrix and its aggregation's result (2); throttling reads two counters, rates
# both and divides (7 per container with CFS counters); a rollup subquery holds CPU, memory
# and their join (3), plus 2 per point whatever the series for the recency weight's scalar
# arithmetic (``FIXED``).  An instant ``*_over_time`` over the window ("window") streams one
# series at a time: its peak is one series' points plus the result.
COST = {"gauge": 2.0, "rate": 2.0, "throttling": 8.0, "rollup": 3.0, "window": 1.0}
FIXED = {"rollup": 2.0}

Pods = tuple[tuple[str, int], ...]  # (pod, raw series of it), sorted by pod


@dataclass(frozen=True)
class Shape:
    """How a query's peak of samples grows: ``cost`` samples per raw series and evaluated
    point, inner points every ``res`` seconds, and ``lookback`` seconds of inner points held
    before the first step (a subquery's span)."""

    cost: float
    res: float
    lookback: float = 0.0
    streamed: bool = False  # the peak is one series' points, not all of them at once
    fixed: float = 0.0  # samples per inner point whatever the number of series

    def points(self, lo: float, hi: float) -> float:
        return (hi - lo + self.lookback) / self.res + 1

    def estimate(self, weight: int, lo: float, hi: float) -> int:
        held = 1 if self.streamed else weight
        return int(math.ceil((self.cost * held + self.fixed) * self.points(lo, hi))) \
            + 2 * weight + 8


@dataclass(frozen=True)
class Piece:
    pods: Pods | None  # None: every pod the base selector matches (not split by pod)
    lo: float
    hi: float
    series: int | None = None  # with pods None: the series behind the selector, if known

    @property
    def weight(self) -> int:
        if self.pods is None:
            return UNKNOWN_WEIGHT if self.series is None else max(1, self.series)
        return max(1, sum(n for _, n in self.pods))


class Budget:
    """The per-query ceiling, shared by the threads of one collection.  A refusal lowers it
    to half of what the refused query was estimated at, so the queries planned after it fit
    what the server showed it accepts; it is never raised again within a collection."""

    def __init__(self, max_samples: int = MAX_SAMPLES) -> None:
        if max_samples < MIN_CEILING:
            raise ValueError(f"max samples per query must be at least {MIN_CEILING}")
        self.ceiling = int(max_samples)
        self.refused = 0  # queries the server refused as too big
        self.splits = 0  # refused queries sent again as smaller pieces
        self.over = 0  # queries sent above the ceiling: one pod and one step, no smaller
        self.lock = threading.Lock()

    def refuse(self, estimate: int) -> bool:
        """Count a refusal of a query estimated at ``estimate``; False when the ceiling was
        already at its floor (nothing smaller is worth trying: the refusal is final)."""
        with self.lock:
            self.refused += 1
            final = self.ceiling <= MIN_CEILING
            self.ceiling = max(MIN_CEILING, min(self.ceiling, estimate // 2))
            return not final


def plan(pods: Pods | None, lo: float, hi: float, step: float, shape: Shape, ceiling: int,
         *, max_points: int = MAX_POINTS, max_pods: int = MAX_PODS,
         series: int | None = None) -> list[Piece]:
    """Pieces of [lo, hi] x pods whose estimated load fits ``ceiling``: pods are grouped
    while one step of the group fits, then each group's range is cut into as many steps as
    fit (at least one: a single pod and step is the floor, sent whatever its estimate)."""
    groups: list[Pods | None] = [None]
    if pods is not None:
        groups, w = [], 0
        cur: list[tuple[str, int]] = []
        for pod, n in pods:
            if cur and (len(cur) >= max_pods or shape.estimate(w + n, lo, lo) > ceiling):
                groups.append(tuple(cur))
                cur, w = [], 0
            cur.append((pod, n))
            w += n
        groups.append(tuple(cur))
    out = []
    for g in groups:
        w = Piece(g, lo, hi, series).weight
        held = 1 if shape.streamed else w
        # inner points that fit, less the lookback's and the first step's
        room = (ceiling - 2 * w - 8) / (shape.cost * held + shape.fixed) \
            - shape.lookback / shape.res - 1
        fit = int(room * shape.res // step) + 1 if room > 0 else 1
        steps = max(1, min(max_points, max(1, POINT_BUDGET // w), fit))
        out += [Piece(g, s, e, series if g is None else None)
                for s, e in time_chunks(lo, hi, step, steps)]
    return out


def pod_selector(base: str, pods: Pods | None) -> str:
    if pods is None:
        return base
    return f"{base},pod=~{regex_alt([p for p, _ in pods])}"


class Fetch:
    """One query over pods and a time range, fetched in pieces that fit the budget."""

    def __init__(self, run: QueryRun, what: str, expr: Callable[[str], str], base: str,
                 step: float, shape: Shape, *, max_points: int = MAX_POINTS,
                 max_pods: int = MAX_PODS) -> None:
        self.run, self.what, self.expr, self.base = run, what, expr, base
        self.step, self.shape = step, shape
        self.max_points, self.max_pods = max_points, max_pods

    def __call__(self, pods: Pods | None, lo: float, hi: float,
                 series: int | None = None) -> pd.DataFrame:
        """``pods`` None reads the whole base selector, behind which are ``series`` series
        (when known), split by time only."""
        pieces = plan(pods, lo, hi, self.step, self.shape, self.run.budget.ceiling,
                      max_points=self.max_points, max_pods=self.max_pods, series=series)
        return _concat([self._piece(p, 0) for p in pieces])

    def _piece(self, piece: Piece, rounds: int) -> pd.DataFrame | None:
        run = self.run
        if self.shape.estimate(piece.weight, piece.lo, piece.hi) > run.budget.ceiling:
            with run.budget.lock:
                run.budget.over += 1
        label = run.span_label(self.what, piece.lo, piece.hi)
        query = self.expr(pod_selector(self.base, piece.pods))
        try:
            return run.ask(label, lambda: run.client.query_range(
                query, piece.lo, piece.hi, self.step), run.matrix, splits=True)
        except TooBig as exc:
            estimate = self.shape.estimate(piece.weight, piece.lo, piece.hi)
            worth = run.budget.refuse(estimate)
            smaller = plan(piece.pods, piece.lo, piece.hi, self.step, self.shape,
                           min(run.budget.ceiling, max(MIN_CEILING, estimate // 2)),
                           max_points=self.max_points, max_pods=self.max_pods,
                           series=piece.series)
            if not worth or rounds >= MAX_ROUNDS or smaller == [piece]:
                pods = "all pods" if piece.pods is None else f"{len(piece.pods)} pod(s)"
                run.record(f"{label}: {run.client.redact(str(exc))} (refused even as "
                           f"{pods} x {self._steps(piece)} step(s))")
                return None
            with run.budget.lock:
                run.budget.splits += 1
            return _concat([self._piece(p, rounds + 1) for p in smaller])

    def _steps(self, piece: Piece) -> int:
        return int(round((piece.hi - piece.lo) / self.step)) + 1


def _concat(frames: list[pd.DataFrame | None]) -> pd.DataFrame:
    parts = [f for f in frames if f is not None and not f.empty]
    if parts:
        return pd.concat(parts, ignore_index=True)
    return pp.parse_prom_matrix({"status": "success",
                                 "data": {"resultType": "matrix", "result": []}})
