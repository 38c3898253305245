"""The ``--from`` overlap check numbers each pod from its names' category codes: distinct
pods get distinct numbers, equal pods equal ones, and their rows read back as their names, a
missing name as "" (as validation fills it) instead of borrowing another category's name;
so also when the codes must be renumbered to fit 64 bits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.pipelines.streaming import POD_KEY, _name_columns, _names_at, _pod_codes


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


def test_pods_are_numbered_apart_and_read_back_with_missing_names_empty() -> None:
    columns = _name_columns(frame(ROWS))
    code = _pod_codes(columns)
    assert _names_at(columns, np.arange(len(ROWS))) == WANT
    assert len(np.unique(code)) == 4 and code[1] == code[4]
    assert _pod_codes(columns, rows=np.array([4, 0])).tolist() == [code[4], code[0]]


def test_so_too_when_the_codes_are_renumbered_to_fit() -> None:
    # 2^16 categories in each of four columns: their product passes 2^62.
    columns = _name_columns(frame(ROWS, extra=1 << 16))
    code = _pod_codes(columns)
    assert _names_at(columns, np.arange(len(ROWS))) == WANT
    assert len(np.unique(code)) == 4 and code[1] == code[4]
