"""Replay history: train on the first days of every container, recommend once, score the
following days (docs/architecture.md, "Benchmarks").

Fleet totals per strategy, over the containers that have training data:

* ``cores``: Σ CPU request;  ``mem_gib``: Σ memory limit (the request where no limit is set);
* ``cpu_slack`` = Σ max(request - use, 0) / Σ request, over every test sample;
* ``cpu_over`` = share of test samples whose CPU use is above the request;
* ``mem_slack`` = Σ max(limit - use, 0) / Σ limit, over every test sample;
* ``mem_oom_vms``: containers with at least one test sample above the memory limit.

A container a strategy cannot size (insufficient training data) is left out of that
strategy's totals and counted in ``left_out``.  The row ``current`` scores the containers' own
requests and limits, over the same containers (those sized), when the data has them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from quotatune.analysis.policy import Policy
from quotatune.analysis.recommend import get_strategy, recommend_from_rollups
from quotatune.model import KEY_COLUMNS, Recommendation
from quotatune.model.errors import InputError
from quotatune.model.units import GIB, MIB
from quotatune.rollup.sketch import daily_rollup

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Score:
    strategy: str
    containers: int
    cores: float
    cpu_slack: float
    cpu_over: float
    mem_gib: float
    mem_slack: float
    mem_oom_vms: int
    left_out: int = 0

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame


def split(usage: pd.DataFrame, train_days: float, test_days: float) -> Split:
    """Per container: samples in [first, first + train) and [first + train, + test)."""
    if train_days <= 0 or test_days <= 0:
        raise InputError("--train-days and --test-days must be positive")
    t0 = usage.groupby(KEY_COLUMNS, sort=False)["timestamp"].transform("min")
    rel = usage["timestamp"] - t0
    train = usage[rel < train_days * DAY]
    test = usage[(rel >= train_days * DAY) & (rel < (train_days + test_days) * DAY)]
    if train.empty:
        raise InputError("no training samples")
    if test.empty:
        raise InputError(
            f"no samples after the first {train_days:g} training days; the data spans "
            f"{(usage['timestamp'].max() - usage['timestamp'].min()) / DAY:.1f} days"
        )
    return Split(train.reset_index(drop=True), test.reset_index(drop=True))


def backtest(
    usage: pd.DataFrame,
    strategies: list[str],
    *,
    specs: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    train_days: float = 14.0,
    test_days: float = 7.0,
    policy: Policy | None = None,
) -> list[Score]:
    """Score every strategy (and ``current``, where known) on the same split."""
    for name in strategies:
        get_strategy(name)
    sp = split(usage, train_days, test_days)
    # Without a "now", windowed strategies look back from each container's own last training
    # sample, never into the test period.
    policy = policy or Policy()
    train_events = events_until(events, sp.train["timestamp"].max())
    rollups = daily_rollup(sp.train)
    scores = []
    recs: list[Recommendation] = []
    for name in strategies:
        recs = recommend_from_rollups(rollups, specs, train_events, strategy=name, policy=policy)
        scores.append(score(name, recs, sp.test))
    if recs and any(r.current.cpu_request_millicores is not None for r in recs):
        scores.append(score("current", recs, sp.test, use_current=True))
    return scores


def events_until(events: pd.DataFrame | None, until: pd.Timestamp) -> pd.DataFrame | None:
    if events is None or events.empty or "timestamp" not in events.columns:
        return events
    return events[pd.to_datetime(events["timestamp"], utc=True) <= until]


def sized(recs: list[Recommendation], use_current: bool) -> tuple[pd.DataFrame, int]:
    rows, left = [], 0
    for r in recs:
        cur = r.current
        cpu_m = cur.cpu_request_millicores if use_current else r.cpu_request_millicores
        mem_mib = (cur.memory_limit_mib or cur.memory_request_mib) if use_current else (
            r.memory_limit_mib or r.memory_request_mib)
        if cpu_m is None or mem_mib is None or r.status != "ok":
            left += 1
            continue
        rows.append((r.namespace, r.workload, r.container, cpu_m / 1000.0, float(mem_mib) * MIB))
    df = pd.DataFrame(rows, columns=[*KEY_COLUMNS, "cpu_req", "mem_lim"])
    return df, left


def score(name: str, recs: list[Recommendation], test: pd.DataFrame, *,
          use_current: bool = False) -> Score:
    sizes, left = sized(recs, use_current)
    t = test.merge(sizes, on=KEY_COLUMNS, how="inner")
    over_mem = t.loc[t["memory_working_set_bytes"] > t["mem_lim"], KEY_COLUMNS]
    return totals(name, sizes["cpu_req"].to_numpy("float64"),
                  sizes["mem_lim"].to_numpy("float64"),
                  t["cpu_cores"].to_numpy("float64"), t["cpu_req"].to_numpy("float64"),
                  t["memory_working_set_bytes"].to_numpy("float64"),
                  t["mem_lim"].to_numpy("float64"),
                  oom_vms=len(over_mem.drop_duplicates()), left_out=left)


def totals(name: str, cpu_req: np.ndarray, mem_lim: np.ndarray, use: np.ndarray,
           req: np.ndarray, mem: np.ndarray, lim: np.ndarray, *, oom_vms: int,
           left_out: int) -> Score:
    """The fleet totals from per-container sizes (cores, bytes) and per-test-sample arrays
    (each sample beside its container's request and limit)."""
    return Score(
        strategy=name,
        containers=len(cpu_req),
        cores=float(cpu_req.sum()),
        cpu_slack=ratio(np.maximum(req - use, 0).sum(), req.sum()),
        cpu_over=ratio(float((use > req).sum()), float(len(use))),
        mem_gib=float(mem_lim.sum() / GIB),
        mem_slack=ratio(np.maximum(lim - mem, 0).sum(), lim.sum()),
        mem_oom_vms=oom_vms,
        left_out=left_out,
    )


def ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else 0.0
