"""The ``--from`` overlap check numbers each pod from its names' category codes: distinct
pods get distinct numbers that map back to their names, a missing name reads as "" (as
validation fills it) instead of borrowing another category's name, and so also when the
codes must be renumbered to fit 64 bits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.pipelines.streaming import POD_KEY, _pod_codes


def frame(rows: list[tuple[str | None, ...]], extra: int = 0) -> pd.DataFrame:
    cols = {}
    for i, col in enumerate(POD_KEY):
        values = [r[i] for r in rows]
        unused = [f"{col}-unused-{k}" for k in range(extra)]
        cats = sorted({v for v in values if v is not None}) + unused
        cols[col] = pd.Categorical(values, categories=cats)
    return pd.DataFrame(cols)


ROWS: list[tuple[str | None, ...]] = [
    ("shop", "web", "web-1", "app"),
    ("shop", "web", None, "app"),
    ("shop", None, "web-1", "app"),
    ("shop", "web", "web-2", "app"),
    ("shop", "web", None, "app"),
]
WANT = [("shop", "web", "web-1", "app"), ("shop", "web", "", "app"),
        ("shop", "", "web-1", "app"), ("shop", "web", "web-2", "app"),
        ("shop", "web", "", "app")]


def test_pods_map_back_to_their_names_with_missing_ones_empty() -> None:
    code, names = _pod_codes(frame(ROWS))
    assert names(code) == WANT
    assert len(np.unique(code)) == 4


def test_so_too_when_the_codes_are_renumbered_to_fit() -> None:
    # 2^16 categories in each of four columns: their product passes 2^62.
    code, names = _pod_codes(frame(ROWS, extra=1 << 16))
    assert names(code) == WANT
    assert len(np.unique(code)) == 4
