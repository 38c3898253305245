"""Progress bars are drawn only when a command runs on a terminal: stdout and stderr both.
``quotatune import … | cat`` leaves stderr on the terminal, yet draws nothing; so do cron
and redirects.  Real terminals (pseudo-terminals) and real pipes, nothing faked."""

from __future__ import annotations

import io
import os
import pty
from collections.abc import Iterator
from typing import TextIO

import pytest

from quotatune.cli.output import progress_enabled


def _written_end(written: int, other: int) -> Iterator[TextIO]:
    """The end a command writes to, as a stream; both ends closed afterwards."""
    with open(written, "w") as stream:
        yield stream
    os.close(other)


@pytest.fixture
def terminal() -> Iterator[TextIO]:
    leader, follower = pty.openpty()
    yield from _written_end(follower, leader)


@pytest.fixture
def pipe() -> Iterator[TextIO]:
    read, write = os.pipe()
    yield from _written_end(write, read)


def test_a_command_on_a_terminal_shows_progress(terminal: TextIO) -> None:
    assert progress_enabled(stdout=terminal, stderr=terminal)


def test_output_piped_into_another_command_shows_none(terminal: TextIO, pipe: TextIO) -> None:
    assert not progress_enabled(stdout=pipe, stderr=terminal)


def test_stderr_redirected_shows_none(terminal: TextIO, pipe: TextIO) -> None:
    assert not progress_enabled(stdout=terminal, stderr=pipe)


def test_output_captured_in_memory_shows_none(terminal: TextIO) -> None:
    assert not progress_enabled(stdout=io.StringIO(), stderr=terminal)
