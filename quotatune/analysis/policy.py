"""The frozen settings a recommendation is computed under.  Passed in, never read from the
environment: the same data and the same policy always give the same recommendation."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Policy:
    # Below either threshold a container gets status "insufficient-data" and no numbers:
    # 100 points is what KRR insists on; a day is the shortest span with a daily cycle in it.
    min_samples: int = 100
    min_history_hours: float = 24.0
    # How long a recommendation is meant to hold (the review period); trends are projected
    # to the end of it.
    horizon_days: float = 7.0
    # "Now" for the window of strategies that look back a fixed time (KRR: 14 days).  None:
    # the newest sample in the data, so that the result depends on the data only.
    now: pd.Timestamp | None = None


DEFAULT_POLICY = Policy()
