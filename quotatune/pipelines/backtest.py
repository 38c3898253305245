"""The backtest flow: read the history to replay, then score every strategy on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quotatune.analysis.backtest import backtest
from quotatune.model.errors import InputError
from quotatune.sources.registry import import_files


def replay(files: list[Path], fmt: str | None, strategies: list[str], *, train_days: float,
           test_days: float) -> list[dict[str, Any]]:
    """One score row per strategy (the JSON of ``backtest -o json``)."""
    data = import_files(files, fmt)
    if data.usage.empty:
        raise InputError("no usage samples in the given files")
    scores = backtest(data.usage, strategies, specs=data.specs, events=data.events,
                      train_days=train_days, test_days=test_days)
    return [s.to_dict() for s in scores]
