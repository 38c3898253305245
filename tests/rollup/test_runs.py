"""Runs of rows: found column by column, trusted only when each key has one time-ordered run,
and sorted as whole runs."""

from __future__ import annotations

import numpy as np
import pytest

from quotatune.rollup.runs import changes, combined, one_run_per_key, runs_by_key


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


def _tuples_order(columns: list[np.ndarray]) -> np.ndarray:
    return np.lexsort(tuple(reversed(columns)))


def test_combined_keys_are_equal_and_ordered_as_the_tuples_of_codes() -> None:
    rng = np.random.default_rng(7)
    cols = [rng.integers(-1, 4, 500), rng.integers(-1, 3, 500), rng.integers(-1, 6, 500)]
    key = combined([(c, int(c.max()) + 1) for c in cols])
    tuples = list(zip(*(c.tolist() for c in cols), strict=True))
    for i, j in rng.integers(0, 500, (300, 2)):
        assert (key[i] == key[j]) == (tuples[i] == tuples[j])
        assert (key[i] < key[j]) == (tuples[i] < tuples[j])


def test_combined_keys_of_some_rows_only_leave_the_columns_as_they_were() -> None:
    a, b = np.array([0, 0, 1, 1, -1]), np.array([2, 0, 2, 0, 1])
    rows = np.array([4, 2, 0])
    some = combined([(a, 2), (b, 3)], rows)
    assert some.tolist() == combined([(a[rows], 2), (b[rows], 3)]).tolist()
    assert a.tolist() == [0, 0, 1, 1, -1] and b.tolist() == [2, 0, 2, 0, 1]


def test_combined_keys_are_renumbered_before_they_overflow() -> None:
    """Four columns of a billion values each would need 2^120: the key so far is made dense
    (in order) before each product that would pass 2^62, so equality and order still hold."""
    rng = np.random.default_rng(3)
    big = 10**9
    cols = [rng.integers(-1, big, 400) for _ in range(4)]
    cols = [np.r_[c, c[:50]] for c in cols]  # repeated tuples must stay equal
    key = combined([(c, big) for c in cols])
    assert key.dtype == np.int64 and key.min() >= 0
    order = _tuples_order(cols)
    assert (np.diff(key[order]) >= 0).all()
    assert len(np.unique(key)) == len({t for t in zip(*(c.tolist() for c in cols), strict=True)})


def test_combining_no_columns_is_refused() -> None:
    with pytest.raises(ValueError):
        combined([])
