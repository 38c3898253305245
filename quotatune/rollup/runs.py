"""Rows that arrive in runs: an export or a stored day lists each series whole and in time
order, so grouping them needs no sort.  Every streaming step that groups rows (the rollup,
a day's merge, a day's container codes, the overlap check of ``--from``) asks the same two
questions, answered here in one pass each; when the answer is no, the caller sorts.  The
last value of each run or group that has one (a current request or limit) is taken here
too."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

_KEY_BOUND = 1 << 62


def changes(columns: Iterable[np.ndarray], n: int) -> np.ndarray:
    """True on the first row and wherever any of ``columns`` differs from the row before:
    the starts of the runs (compared column by column, no per-row key is built)."""
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
    for c in columns:
        change[1:] |= c[1:] != c[:-1]
    return change


def combined(columns: Sequence[tuple[np.ndarray, int]], rows: np.ndarray | None = None
             ) -> np.ndarray:
    """One int64 per row (of ``rows``; default: all) for the tuple of the columns' codes,
    equal where the tuples are and ordered as they are.  Each column is its codes (-1:
    missing, which sorts first) and how many values they take (codes below it).  Before the
    product of those counts would overflow, the key so far is renumbered densely, in order.
    Grouping millions of rows by one int64 is several times faster than by the columns."""
    if not columns:
        raise ValueError("no columns to combine")
    code: np.ndarray | None = None
    bound = 1
    for codes, distinct in columns:
        part = (codes if rows is None else codes[rows]).astype(np.int64)
        part += 1  # missing -> 0
        if code is None:
            code, bound = part, distinct + 1
            continue
        if bound * (distinct + 1) >= _KEY_BOUND:
            uniq, dense = np.unique(code, return_inverse=True)
            code, bound = dense.astype(np.int64), len(uniq)
        code *= distinct + 1
        code += part
        bound *= distinct + 1
    assert code is not None
    return code


def one_run_per_key(run_keys: np.ndarray, change: np.ndarray, ts: np.ndarray, *,
                    strict: bool = False) -> bool:
    """Whether each key (``run_keys``: one per run, in run order) has a single run and times
    never go back within a run (with ``strict``: always go forward, no repeated time)."""
    if len(np.unique(run_keys)) != len(run_keys):
        return False
    within = ~change[1:]
    back = ts[1:] <= ts[:-1] if strict else ts[1:] < ts[:-1]
    return not (within & back).any()


def runs_by_key(run_keys: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """The row order that puts the runs in order of their keys (stable), each run kept
    whole: sorting the runs instead of the rows."""
    lengths = np.diff(np.r_[starts, n])
    by_key = np.argsort(run_keys, kind="stable")
    seg_start, seg_len = starts[by_key], lengths[by_key]
    shift = seg_start - np.r_[0, np.cumsum(seg_len)[:-1]]
    return np.arange(n) + np.repeat(shift, seg_len)


def last_valid_runs(v: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Last non-NaN value of each run of rows starting at ``starts`` (rows in time order)."""
    out = v[np.r_[starts[1:], len(v)] - 1]
    if not np.isnan(out).any():  # every run ends on a value: no pass over the rows
        return out
    missing = np.isnan(v)
    # A series without the value at all (no limit set) is the usual reason for NaN: a run
    # with no valid row stays NaN; only runs ending in NaN after a valid row need a search.
    valid = np.add.reduceat(~missing, starts, dtype=np.int64)
    if not (np.isnan(out) & (valid > 0)).any():
        return out
    pos = np.where(missing, -1, np.arange(len(v)))
    last = np.maximum.reduceat(pos, starts)
    return np.where(last >= 0, v[np.maximum(last, 0)], np.nan)


def last_valid(v: np.ndarray, group: np.ndarray, ngroups: int) -> np.ndarray:
    """Last non-NaN value per group (rows are in time order within a group; merge.py
    orders pieces of a day newest last and uses it too, as does currents.py)."""
    out = np.full(ngroups, np.nan)
    pos = np.flatnonzero(~np.isnan(v))
    if len(pos):
        last = np.full(ngroups, -1)
        np.maximum.at(last, group[pos], pos)
        has = last >= 0
        out[has] = v[last[has]]
    return out
