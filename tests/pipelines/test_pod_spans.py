"""The spans ``--from`` keeps per pod to find samples repeated across chunks: a pod seen
again later in time widens its span, a pod seen again within it is an overlap, and an
overlap leaves the spans as they were."""

from __future__ import annotations

import numpy as np

from quotatune.rollup.spans import PodSpans


def arr(*v: int) -> np.ndarray:
    return np.array(v, dtype="int64")


def test_new_pods_are_kept_sorted_and_a_later_chunk_widens_their_spans() -> None:
    s = PodSpans()
    assert s.add(arr(30, 10), arr(0, 0), arr(9, 9))
    assert s.add(arr(20, 10), arr(5, 10), arr(6, 19))  # pod 10 again, after its span
    assert s.keys.tolist() == [10, 20, 30]
    assert s.lo.tolist() == [0, 5, 0] and s.hi.tolist() == [19, 6, 9]
    assert s.add(arr(10), arr(-5), arr(-1))  # and before it
    assert (s.lo[0], s.hi[0]) == (-5, 19)


def test_a_time_within_a_pods_span_is_an_overlap_and_changes_nothing() -> None:
    s = PodSpans()
    assert s.add(arr(10, 20), arr(0, 0), arr(9, 9))
    for lo, hi in ((9, 12), (-3, 0), (2, 3), (-1, 20)):
        assert not s.add(arr(40, 10), arr(0, lo), arr(5, hi))
    assert s.keys.tolist() == [10, 20] and s.hi.tolist() == [9, 9]


def test_a_pod_given_twice_at_once_is_an_overlap() -> None:
    # Two pods whose names hash alike arrive so: read exactly rather than guess.
    assert not PodSpans().add(arr(7, 7), arr(0, 50), arr(9, 60))
