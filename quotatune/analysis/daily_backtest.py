"""The backtest from per-day rollups (docs/architecture.md, "Benchmarks", "The store"): train
on whole UTC days, recommend once, score the following whole days from their rollups, so that
memory follows the number of containers and days, never the number of samples.

The metrics are those of :mod:`quotatune.analysis.backtest`; how each is read from a test
day's rollup row (one per pod's container and day, see :mod:`quotatune.rollup.sketch`):

* ``cores``, ``mem_gib``, ``containers``, ``left_out``: from the recommendations, exact;
* ``mem_oom_vms``: a container whose ``mem_max`` on a test day is above its limit: exact;
* ``cpu_over``: the CPU histogram's counts above the request.  Exact except for the samples
  in the one fine bucket that holds the request (values within 0.49 % + 1 m of it: a bucket
  spans a factor 1.05 ** 0.1 plus 0.98 m); those count in proportion to the part of the
  bucket above the request, as if spread evenly over it;
* ``cpu_slack`` = (request * n - cpu_sum + Σ max(use - request, 0)) / (request * n): the
  sums and counts are exact, and the excess above the request is read from the histogram,
  each bucket at the middle of its part above the request: off by at most one bucket width
  (< 0.5 % + 1 m) per sample above the request;
* ``mem_slack``: likewise from ``mem_sum`` and the memory histogram (< 0.5 % + 0.93 MiB per
  sample above the limit).

So the scores are those of the sample path within one fine bucket, *on the same split*.  The
split differs: the sample path trains each container on ``[first sample, + train_days)``, to
the nanosecond; here a container trains on its first ``train_days`` UTC days (its first,
partial, day included) and is scored on the next ``test_days`` UTC days, so whole-day counts
only.  Where every container starts at a UTC midnight both splits are the same; otherwise a
container trains on up to a day less than the sample path (the rest of its first day) and is
scored on different hours at both ends.  Folds (:mod:`quotatune.analysis.folds`) are whole
UTC days already: from rollups they differ from the sample path only by the bucket precision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from quotatune.analysis.backtest import Score, events_until, ratio, sized
from quotatune.analysis.folds import SHAPES, Fold, plan_folds, score_folds, whole_days
from quotatune.analysis.policy import Policy
from quotatune.analysis.recommend import get_strategy, recommend_from_rollups
from quotatune.model import KEY_COLUMNS, Recommendation
from quotatune.model.errors import InputError
from quotatune.model.units import GIB
from quotatune.rollup.sketch import CPU_FIRST, DAY_NS, MEM_FIRST, bucket_start

# What scoring a test day reads, besides what the strategies read to train.
SCORE_COLUMNS = ["day", "n", "t_first", "t_last", "cpu_sum", "mem_sum", "mem_max", "cpu_b",
                 "cpu_c", "mem_b", "mem_c"]


def daily_split(rollups: pd.DataFrame, train_days: float, test_days: float
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per container: its first ``train_days`` UTC days (from the day of its first sample)
    and the ``test_days`` after them."""
    why = "the backtest replays whole UTC days"
    train_n = whole_days(train_days, "--train-days", why)
    test_n = whole_days(test_days, "--test-days", why)
    day = _day_ns(rollups)
    first = pd.Series(day, index=rollups.index).groupby(
        [rollups[c] for c in KEY_COLUMNS], sort=False, observed=True).transform("min")
    rel = (day - first.to_numpy()) // DAY_NS
    train = rollups[rel < train_n]
    test = rollups[(rel >= train_n) & (rel < train_n + test_n)]
    if train.empty:
        raise InputError("no training samples")
    if test.empty:
        span = (day.max() - day.min()) // DAY_NS + 1 if len(day) else 0
        raise InputError(f"no samples after the first {train_n} training days; the data "
                         f"spans {span} UTC day(s)")
    return train, test


def backtest_rollups(
    rollups: pd.DataFrame, strategies: Sequence[str], *, specs: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None, train_days: float = 14, test_days: float = 7,
    policy: Policy | None = None, done: Callable[[str], None] | None = None,
) -> list[Score]:
    """Every strategy (and ``current``, where known) scored on the same whole-day split;
    ``done(name)`` is called as each is scored (for a progress bar)."""
    for name in strategies:
        get_strategy(name)
    train, test = daily_split(rollups, train_days, test_days)
    until = pd.to_datetime(train["t_last"], utc=True).max()
    train_events = events_until(events, until)
    scores, recs = [], []
    for name in strategies:
        recs = recommend_from_rollups(train, specs, train_events, strategy=name, policy=policy)
        scores.append(score_rollups(name, recs, test))
        if done is not None:
            done(name)
    if recs and any(r.current.cpu_request_millicores is not None for r in recs):
        scores.append(score_rollups("current", recs, test, use_current=True))
    return scores


def rollup_folds(
    rollups: pd.DataFrame, strategies: Sequence[str], *,
    shapes: Iterable[tuple[float, float]] = SHAPES, step_days: int = 1,
    folds: int | None = None, specs: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None, policy: Policy | None = None,
) -> pd.DataFrame:
    """:func:`quotatune.analysis.folds.rolling_folds` from rollups: the same folds and
    columns, each test window scored from its days' rollups."""
    for name in strategies:
        get_strategy(name)
    if rollups.empty:
        raise InputError("no usage samples to fold")
    first = pd.to_datetime(rollups["t_first"], utc=True).min()
    last = pd.to_datetime(rollups["t_last"], utc=True).max()
    plan = plan_folds(first, last, shapes, step_days, folds)
    day = _day_ns(rollups)

    def scorer(name: str, recs: list[Recommendation], f: Fold) -> Score:
        o = f.origin.value
        return score_rollups(name, recs, rollups[(day >= o) & (day < o + f.test_days * DAY_NS)])

    return score_folds(plan, strategies, rollups, day, scorer, specs=specs, events=events,
                       policy=policy)


def score_rollups(name: str, recs: list[Recommendation], test: pd.DataFrame, *,
                  use_current: bool = False) -> Score:
    """:func:`quotatune.analysis.backtest.score` from the test days' rollup rows."""
    sizes, left = sized(recs, use_current)
    t = test.merge(sizes, on=KEY_COLUMNS, how="inner")
    n = t["n"].to_numpy("float64")
    req, lim = t["cpu_req"].to_numpy("float64"), t["mem_lim"].to_numpy("float64")
    cpu_over, cpu_excess = above(t["cpu_b"], t["cpu_c"], req, CPU_FIRST)
    _, mem_excess = above(t["mem_b"], t["mem_c"], lim, MEM_FIRST)
    cpu_free = np.maximum(req * n - t["cpu_sum"].to_numpy("float64") + cpu_excess, 0.0)
    mem_free = np.maximum(lim * n - t["mem_sum"].to_numpy("float64") + mem_excess, 0.0)
    oom = t.loc[t["mem_max"].to_numpy("float64") > lim, KEY_COLUMNS].drop_duplicates()
    return Score(
        strategy=name, containers=len(sizes), cores=float(sizes["cpu_req"].sum()),
        cpu_slack=ratio(cpu_free.sum(), (req * n).sum()),
        cpu_over=ratio(cpu_over.sum(), n.sum()),
        mem_gib=float(sizes["mem_lim"].sum() / GIB),
        mem_slack=ratio(mem_free.sum(), (lim * n).sum()),
        mem_oom_vms=len(oom), left_out=left,
    )


def above(buckets: pd.Series, counts: pd.Series, threshold: np.ndarray, first: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """Per row of sparse histograms (fine bucket indices and their counts): how many samples
    lie above ``threshold`` and by how much in sum, the bucket holding the threshold split
    as if its samples were spread evenly over it."""
    rows = len(threshold)
    lens = np.fromiter((len(b) for b in buckets), dtype="int64", count=rows)
    if not lens.sum():
        return np.zeros(rows), np.zeros(rows)
    b = np.concatenate([np.asarray(x) for x in buckets]).astype("int64")
    c = np.concatenate([np.asarray(x) for x in counts]).astype("float64")
    row = np.repeat(np.arange(rows), lens)
    lo, hi = bucket_start(b, first), bucket_start(b + 1, first)
    t = threshold[row]
    part = np.clip((hi - t) / (hi - lo), 0.0, 1.0)  # share of the bucket above t
    over = c * part
    excess = over * ((hi + np.maximum(lo, t)) / 2 - t)  # its middle, above t
    return (np.bincount(row, weights=over, minlength=rows),
            np.bincount(row, weights=np.where(part > 0, excess, 0.0), minlength=rows))


def _day_ns(rollups: pd.DataFrame) -> np.ndarray:
    return pd.to_datetime(rollups["day"], utc=True).to_numpy("datetime64[ns]").astype("int64")
