"""Runs of rows: found column by column, trusted only when each key has one time-ordered run,
and sorted as whole runs."""

from __future__ import annotations

import numpy as np

from quotatune.rollup.runs import changes, one_run_per_key, runs_by_key


def test_a_run_starts_wherever_any_column_changes() -> None:
    a = np.array([1, 1, 1, 2, 2, 2])
    b = np.array([0, 0, 5, 5, 5, 6])
    assert changes([a, b], 6).tolist() == [True, False, True, True, False, True]
    assert changes([], 0).tolist() == []


def test_a_key_seen_in_two_runs_or_going_back_in_time_is_not_trusted() -> None:
    ts = np.array([1, 2, 3, 1, 2])
    one = changes([np.array([7, 7, 7, 8, 8])], 5)
    assert one_run_per_key(np.array([7, 8]), one, ts)
    split = changes([np.array([7, 8, 7, 7, 7])], 5)
    assert not one_run_per_key(np.array([7, 8, 7]), split, ts)
    back = np.array([1, 3, 2, 1, 2])
    assert not one_run_per_key(np.array([7, 8]), one, back)
    repeated = np.array([1, 1, 3, 1, 2])
    assert one_run_per_key(np.array([7, 8]), one, repeated)
    assert not one_run_per_key(np.array([7, 8]), one, repeated, strict=True)


def test_sorting_runs_gives_the_stable_sort_of_the_rows() -> None:
    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 6, 30)
    run_keys = rng.permutation(30)
    rows = np.repeat(run_keys, lengths)
    starts = np.flatnonzero(changes([rows], len(rows)))
    order = runs_by_key(run_keys, starts, len(rows))
    np.testing.assert_array_equal(order, np.argsort(rows, kind="stable"))
