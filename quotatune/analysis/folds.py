"""Rolling-origin cross-validation of the backtest (docs/architecture.md, "Benchmarks"): many
train+test splits sliding through a trace, so that a parameter is judged by its worst fold,
never one split.

A fold is a ``train_days`` + ``test_days`` pair and an *origin*, a UTC midnight: every
container trains on its samples in ``[origin - train_days, origin)``, gets one
recommendation, and is scored on its samples in ``[origin, origin + test_days)``, with the
metrics of :func:`quotatune.analysis.backtest.score`.  Origins slide by ``step_days`` from the
first one whose training window lies after the first (partial) day of data, to the last
whose test window ends by the end of the last day of data.  Unlike the single split of
:func:`~quotatune.analysis.backtest.backtest` (which starts at each container's own first
sample), folds share a calendar, so a container that appears late trains on less.

Shared work is done once: the per-day rollups of the whole trace (a fold's training set is
a slice of them, because folds are whole UTC days) and one time-sorted copy of the samples
(a fold's test set is a contiguous slice of it).

``fold_summary`` gives, per fold shape, strategy and metric, the worst, median and best fold;
every metric is one where higher is worse (allocation, slack, overrun, OOM VMs, and the ratios
to the reference strategies the quality goal is stated against).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quotatune.analysis.backtest import Score, sized, totals
from quotatune.analysis.policy import Policy
from quotatune.analysis.recommend import get_strategy, recommend_from_rollups
from quotatune.model import KEY_COLUMNS, Recommendation
from quotatune.model.errors import InputError
from quotatune.rollup.sketch import DAY_NS, daily_rollup

SHAPES: tuple[tuple[int, int], ...] = ((14, 7), (7, 7))
METRICS = ("cores", "cpu_slack", "cpu_over", "mem_gib", "mem_slack", "mem_oom_vms")
# Ratio columns: (name, metric, reference strategy); present when the reference was scored.
RATIOS = (("oom_vs_krr", "mem_oom_vms", "krr"), ("gib_vs_krr", "mem_gib", "krr"),
          ("cores_vs_krr", "cores", "krr"), ("cores_vs_vpa", "cores", "vpa"))


@dataclass(frozen=True)
class Fold:
    train_days: int
    test_days: int
    origin: pd.Timestamp  # first instant of the test window (a UTC midnight)

    @property
    def shape(self) -> str:
        return f"{self.train_days}+{self.test_days}"


class _Trace:
    """The samples sorted by time once, as arrays, with a container code per sample."""

    def __init__(self, usage: pd.DataFrame) -> None:
        codes = usage.groupby(KEY_COLUMNS, sort=False, observed=True).ngroup().to_numpy()
        ts = pd.to_datetime(usage["timestamp"], utc=True).to_numpy("datetime64[ns]")
        ts = ts.astype("int64")
        order = np.argsort(ts, kind="stable")
        self.ts = ts[order]
        self.code = codes[order].astype("int64")
        self.cpu = usage["cpu_cores"].to_numpy("float64")[order]
        self.mem = usage["memory_working_set_bytes"].to_numpy("float64")[order]
        first = np.unique(codes, return_index=True)[1]
        keys = usage[KEY_COLUMNS].iloc[first].astype(str)
        self.index = {k: i for i, k in enumerate(keys.itertuples(index=False, name=None))}
        self.size = len(first)

    def window(self, start: int, end: int) -> slice:
        lo, hi = np.searchsorted(self.ts, [start, end])
        return slice(int(lo), int(hi))


def fold_origins(first: pd.Timestamp, last: pd.Timestamp, train_days: int, test_days: int,
                 step_days: int = 1) -> list[pd.Timestamp]:
    """Every origin (UTC midnight) whose training days start at or after ``first`` and whose
    test days end by the end of ``last``'s day."""
    if train_days <= 0 or test_days <= 0 or step_days <= 0:
        raise InputError("fold train, test and step days must be positive")
    begin = pd.Timestamp(first).ceil("D")
    end = pd.Timestamp(last).floor("D") + pd.Timedelta(days=1)
    day = pd.Timedelta(days=1)
    out = []
    origin = begin + train_days * day
    while origin + test_days * day <= end:
        out.append(origin)
        origin += step_days * day
    return out


def rolling_folds(
    usage: pd.DataFrame,
    strategies: Sequence[str],
    *,
    shapes: Iterable[tuple[float, float]] = SHAPES,
    step_days: int = 1,
    folds: int | None = None,
    specs: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    policy: Policy | None = None,
) -> pd.DataFrame:
    """One row per fold and strategy: ``shape``, ``origin``, ``strategy``, the
    :class:`~quotatune.analysis.backtest.Score` fields, and the :data:`RATIOS` to the
    reference strategies scored on the same fold.  ``folds``: at most that many per shape,
    the latest origins (None: every origin)."""
    for name in strategies:
        get_strategy(name)
    if usage.empty:
        plan_folds(None, None, shapes, step_days, folds)  # bad shapes first, as before
        raise InputError("no usage samples to fold")
    trace = _Trace(usage)
    plan = plan_folds(pd.Timestamp(trace.ts[0], tz="UTC"), pd.Timestamp(trace.ts[-1], tz="UTC"),
                      shapes, step_days, folds)
    rollups = daily_rollup(usage)
    day = pd.to_datetime(rollups["day"], utc=True).to_numpy("datetime64[ns]").astype("int64")

    def scorer(name: str, recs: list[Recommendation], f: Fold) -> Score:
        o = f.origin.value
        return _score(name, recs, trace, trace.window(o, o + f.test_days * DAY_NS))

    return score_folds(plan, strategies, rollups, day, scorer, specs=specs, events=events,
                       policy=policy)


def plan_folds(first: pd.Timestamp | None, last: pd.Timestamp | None,
               shapes: Iterable[tuple[float, float]], step_days: int, folds: int | None
               ) -> list[Fold]:
    """The folds of every shape between the data's ``first`` and ``last`` sample (the latest
    ``folds`` per shape); an input error if there is none (or, with ``first`` None, once the
    shapes and counts are checked)."""
    if folds is not None and folds <= 0:
        raise InputError("the number of folds must be positive")
    why = "folds are UTC days"
    whole = [(whole_days(tr, "fold train days", why), whole_days(te, "fold test days", why))
             for tr, te in shapes]
    if first is None or last is None:
        return []
    plan = [Fold(tr, te, o) for tr, te in whole
            for o in fold_origins(first, last, tr, te, step_days)[-(folds or 0):]]
    if not plan:
        span = (last - first) / pd.Timedelta(days=1)
        raise InputError(f"the data spans {span:.1f} days: too short for a "
                         f"{' or '.join(f'{a}+{b}' for a, b in whole)} day fold")
    return plan


def score_folds(
    plan: list[Fold], strategies: Sequence[str], rollups: pd.DataFrame, day: np.ndarray,
    scorer: Callable[[str, list[Recommendation], Fold], Score], *,
    specs: pd.DataFrame | None = None, events: pd.DataFrame | None = None,
    policy: Policy | None = None,
) -> pd.DataFrame:
    """Train every strategy on each fold's days of ``rollups`` (``day``: their UTC days in
    ns), score it with ``scorer``, and add the ratios to the reference strategies."""
    rows = []
    for f in plan:
        o = f.origin.value
        train = rollups[(day >= o - f.train_days * DAY_NS) & (day < o)]
        ev = _before(events, f.origin)
        scores = {name: scorer(name, recommend_from_rollups(
            train, specs, ev, strategy=name, policy=policy), f) for name in strategies}
        for s in scores.values():
            row = {"shape": f.shape, "origin": f.origin, **s.to_dict()}
            for col, metric, ref in RATIOS:
                if ref in scores:
                    row[col] = _rel(getattr(s, metric), getattr(scores[ref], metric))
            rows.append(row)
    return pd.DataFrame(rows)


def fold_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per shape, strategy and metric: the worst (highest), median and best (lowest) fold,
    and how many folds there were."""
    metrics = [c for c in (*METRICS, *(r[0] for r in RATIOS)) if c in table.columns]
    long = table.melt(id_vars=["shape", "strategy"], value_vars=metrics, var_name="metric")
    g = long.groupby(["shape", "strategy", "metric"], sort=False)["value"]
    out = pd.DataFrame({"worst": g.max(), "median": g.median(), "best": g.min(),
                        "folds": g.count()})
    return out.reset_index()


def whole_days(days: float, what: str, why: str) -> int:
    """``days`` as an int; an input error naming ``what`` unless it is a positive whole
    number."""
    if days <= 0 or days != int(days):
        raise InputError(f"{what} must be a positive whole number ({why}), not {days:g}")
    return int(days)


def _before(events: pd.DataFrame | None, until: pd.Timestamp) -> pd.DataFrame | None:
    if events is None or events.empty or "timestamp" not in events.columns:
        return events
    return events[pd.to_datetime(events["timestamp"], utc=True) < until]


def _score(name: str, recs: list[Recommendation], trace: _Trace, test: slice) -> Score:
    sizes, left = sized(recs, use_current=False)
    cpu_req = np.full(trace.size, np.nan)
    mem_lim = np.full(trace.size, np.nan)
    pos = np.fromiter((trace.index.get(k, -1) for k in sizes[KEY_COLUMNS].itertuples(
        index=False, name=None)), dtype="int64", count=len(sizes))
    cpu_req[pos[pos >= 0]] = sizes["cpu_req"].to_numpy("float64")[pos >= 0]
    mem_lim[pos[pos >= 0]] = sizes["mem_lim"].to_numpy("float64")[pos >= 0]
    code = trace.code[test]
    keep = ~np.isnan(cpu_req[code])
    code = code[keep]
    req, lim = cpu_req[code], mem_lim[code]
    mem = trace.mem[test][keep]
    return totals(name, sizes["cpu_req"].to_numpy("float64"),
                  sizes["mem_lim"].to_numpy("float64"), trace.cpu[test][keep], req, mem, lim,
                  oom_vms=int(np.unique(code[mem > lim]).size), left_out=left)


def _rel(value: float, ref: float) -> float:
    """value / ref; 0 / 0 is 0 (a goal of "at most x times the reference" is met), anything
    else against a zero is inf."""
    if ref:
        return float(value) / float(ref)
    return 0.0 if not value else float("inf")
