"""The reader thread gives every chunk once, in order, and hands its errors over."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from quotatune.model.errors import InputError
from quotatune.pipelines.prefetch import prefetched


def test_every_item_arrives_once_and_in_order() -> None:
    assert list(prefetched(iter(range(1000)), depth=2)) == list(range(1000))


def test_an_error_in_the_reader_is_raised_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise InputError("data.csv: column 'cpu_cores', row 9: not a number")

    got = []
    with pytest.raises(InputError, match="row 9"):
        for x in prefetched(items()):
            got.append(x)
    assert got == [1, 2]


def test_stopping_early_closes_the_reader_and_its_source() -> None:
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            yield from range(10**9)
        finally:
            closed.set()

    it = prefetched(items())
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # type: ignore[attr-defined]
    assert closed.wait(5)
    assert not any(t.name == "quotatune-reader" and t.is_alive()
                   for t in threading.enumerate())
