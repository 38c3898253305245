"""What every collector and importer returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from quotatune.model import frames as model
from quotatune.model.chunk import UsageColumns


@dataclass
class Collected:
    """Canonical frames from one source, plus what went wrong without stopping the rest."""

    usage: pd.DataFrame = field(default_factory=model.empty_usage)
    specs: pd.DataFrame = field(default_factory=model.empty_specs)
    events: pd.DataFrame = field(default_factory=model.empty_events)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Samples not yet made a frame, for a caller that asked for typed columns (``usage`` is
    # then empty): :class:`quotatune.model.chunk.UsageColumns`.
    columns: UsageColumns | None = None

    def extend(self, other: Collected) -> Collected:
        """Concatenate another source's frames into this one (returns self)."""
        self.usage = _concat(self.usage, other.usage)
        self.specs = _concat(self.specs, other.specs)
        self.events = _concat(self.events, other.events)
        self.errors.extend(other.errors)
        self.notes.extend(other.notes)
        return self


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    if b.empty:
        return a
    if a.empty:
        return b.reset_index(drop=True)
    return pd.concat([a, b], ignore_index=True)
