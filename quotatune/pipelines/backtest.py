"""The backtest flow: read the history to replay, then score every strategy on it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune.analysis.backtest import backtest
from quotatune.analysis.folds import SHAPES, fold_summary, rolling_folds
from quotatune.model.errors import InputError
from quotatune.sources.registry import import_files


def replay(files: list[Path], fmt: str | None, strategies: list[str], *, train_days: float,
           test_days: float, warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """One score row per strategy (the JSON of ``backtest -o json``); the files that could
    not be read are appended to ``warnings``."""
    data = import_files(files, fmt)
    if warnings is not None:
        warnings.extend(data.errors)
    if data.usage.empty:
        raise InputError("no usage samples in the given files")
    scores = backtest(data.usage, strategies, specs=data.specs, events=data.events,
                      train_days=train_days, test_days=test_days)
    return [s.to_dict() for s in scores]


def replay_folds(files: list[Path], fmt: str | None, strategies: list[str], *, folds: int,
                 shape: tuple[float, float] | None = None, warnings: list[str] | None = None
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rolling-origin folds (the latest ``folds`` per shape; 14+7 and 7+7 days unless a shape
    is given): one row per fold and strategy, and the worst / median / best per metric."""
    data = import_files(files, fmt)
    if warnings is not None:
        warnings.extend(data.errors)
    if data.usage.empty:
        raise InputError("no usage samples in the given files")
    table = rolling_folds(data.usage, strategies, shapes=[shape] if shape else SHAPES,
                          folds=folds, specs=data.specs, events=data.events)
    table["origin"] = [o.strftime("%Y-%m-%d") for o in table["origin"]]
    return _records(table), _records(fold_summary(table))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: a ratio to a reference that scored 0 (0/0) is null, not NaN."""
    return [{str(k): (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in row.items()} for row in df.to_dict("records")]
