"""The backtest flow: read the per-day rollups to replay (from the store, or streamed from
``--from`` files), then score every strategy on them (docs/architecture.md, "Benchmarks").

Neither input is read whole: the store's rollups are read day by day with only the columns
the strategies and the scoring need (and only the target's rows), and files are streamed
into rollups chunk by chunk (:func:`quotatune.pipelines.inputs.rollups_from_files`), so
memory follows the number of containers and days.  How the rollup scores relate to scoring
every sample: :mod:`quotatune.analysis.daily_backtest`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune.analysis.daily_backtest import SCORE_COLUMNS, backtest_rollups, rollup_folds
from quotatune.analysis.folds import SHAPES, fold_summary
from quotatune.analysis.recommend import get_strategy, rollup_columns
from quotatune.model import Target
from quotatune.model.errors import InputError
from quotatune.pipelines.inputs import existing_store, oom_limits_stored, rollups_from_files
from quotatune.pipelines.progress import NO_PROGRESS, Progress

ALL = Target.parse(None)


@dataclass
class History:
    """What a backtest replays: per-day rollups, specs and events, and what could not be
    read (``errors``, one line per file)."""

    rollups: pd.DataFrame
    specs: pd.DataFrame
    events: pd.DataFrame
    errors: list[str] = field(default_factory=list)


def load_history(files: list[Path], fmt: str | None, store: Path | None, strategies: list[str],
                 target: Target = ALL, progress: Progress = NO_PROGRESS) -> History:
    """The rollups of ``target`` from ``files`` if given, else from the store at ``store``."""
    for name in strategies:
        get_strategy(name)  # a bad name fails before anything is read
    # What the strategies and the scoring read: all that is rolled up from files, or read
    # from a store.
    columns = list(dict.fromkeys(
        [*(c for s in strategies for c in rollup_columns(s)), *SCORE_COLUMNS]))
    if files:
        data = rollups_from_files(files, fmt, target, progress=progress, columns=columns)
        if data.rollups.empty:
            raise InputError("no usage samples in the given files")
        return History(data.rollups, data.specs, data.events, list(data.errors))
    if store is None:
        raise InputError("backtest needs --from FILE… or --store DIR with the history to replay")
    st = existing_store(store)
    days = st.days()
    progress.phase("reading days", len(days))
    parts = []
    for day in days:
        at = pd.Timestamp(day, tz="UTC")
        r = st.read_rollups(since=at, until=at, columns=columns, target=target)
        if r is not None and not r.empty:
            parts.append(r)
        progress.advance(rows=0 if r is None else int(r["n"].sum()))
    if not parts:
        what = "" if target.is_all else f" for {target}"
        raise InputError(f"no usage samples{what} in store {st.root}")
    specs, events = st.read_specs(), st.read_events()
    if not target.is_all:
        specs = specs[target.mask(specs)] if not specs.empty else specs
        events = events[target.mask(events)] if not events.empty else events
    # The limit at each OOM kill as the samples give it, as --from's rollups carry it.
    events = oom_limits_stored(st, target, events)
    return History(pd.concat(parts, ignore_index=True), specs, events)


def replay(history: History, strategies: list[str], *, train_days: float, test_days: float,
           progress: Progress = NO_PROGRESS) -> list[dict[str, Any]]:
    """One score row per strategy (the JSON of ``backtest -o json``)."""
    progress.phase("scoring strategies", len(strategies))
    scores = backtest_rollups(history.rollups, strategies, specs=history.specs,
                              events=history.events, train_days=train_days,
                              test_days=test_days, done=lambda _: progress.advance())
    return [s.to_dict() for s in scores]


def replay_folds(history: History, strategies: list[str], *, folds: int,
                 shape: tuple[float, float] | None = None
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rolling-origin folds (the latest ``folds`` per shape; 14+7 and 7+7 days unless a shape
    is given): one row per fold and strategy, and the worst / median / best per metric."""
    table = rollup_folds(history.rollups, strategies, shapes=[shape] if shape else SHAPES,
                         folds=folds, specs=history.specs, events=history.events)
    table["origin"] = [o.strftime("%Y-%m-%d") for o in table["origin"]]
    return _records(table), _records(fold_summary(table))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: a ratio to a reference that scored 0 (0/0) is null, not NaN."""
    return [{str(k): (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in row.items()} for row in df.to_dict("records")]
