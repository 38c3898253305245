"""Integer codes for the name columns of a day of samples, shared by everything that
accumulates per container (or per pod) day by day: grouping millions of rows by an int64 is
several times faster than by three or four text columns, categorical or not."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pandas as pd

from quotatune.rollup import runs

_recent: dict[tuple[int, tuple[str, ...]], tuple[Any, tuple[np.ndarray, pd.DataFrame]]] = {}


def codes(day: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """A dense code per distinct ``cols`` tuple (in order of first appearance) and the
    code -> names table (text).  Several accumulators read the same day: the codes of the
    frames still alive are computed once (a cache of plain values, not a global state that
    changes any answer)."""
    key = (id(day), tuple(cols))
    hit = _recent.get(key)
    if hit is not None and hit[0]() is day:
        return hit[1]
    out = _codes(day, cols)
    for k in [k for k, (ref, _) in _recent.items() if ref() is None]:
        del _recent[k]
    _recent[key] = (weakref.ref(day), out)
    return out


def _codes(day: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    columns = []
    for col in cols:
        s = day[col]
        c, uniq = (s.array.codes, s.cat.categories) if isinstance(
            s.dtype, pd.CategoricalDtype) else pd.factorize(s)
        columns.append((np.asarray(c), len(uniq)))
    # A stored day is written sorted, so the rows come in runs of one container: the runs
    # are found by comparing each column with the row before, and only the runs' keys are
    # hashed (then spread back over the runs), instead of every row's.
    n = len(day)
    starts = np.flatnonzero(runs.changes((c for c, _ in columns), n))
    combined = runs.combined(columns, starts)
    run_code, distinct = pd.factorize(combined)
    code = np.repeat(run_code.astype(np.int64), np.diff(np.r_[starts, n]))
    first = np.zeros(len(distinct), dtype=np.int64)
    first[run_code[::-1]] = starts[::-1]
    names = day[cols].iloc[first].astype(str).reset_index(drop=True)
    return code, names
