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


@pytest.fixture
def terminal() -> Iterator[TextIO]:
    leader, follower = pty.openpty()
    with open(follower, "w") as stream:
        yield stream
    os.close(leader)


@pytest.fixture
def pipe() -> Iterator[TextIO]:
    read, write = os.pipe()
    with open(write, "w") as stream:
        yield stream
    os.close(read)


def test_a_command_on_a_terminal_shows_progress(terminal: TextIO) -> None:
    assert progress_enabled(stdout=terminal, stderr=terminal)


def test_output_piped_into_another_command_shows_none(terminal: TextIO, pipe: TextIO) -> None:
    assert not progress_enabled(stdout=pipe, stderr=terminal)


def test_stderr_redirected_shows_none(terminal: TextIO, pipe: TextIO) -> None:
    assert not progress_enabled(stdout=terminal, stderr=pipe)


def test_output_captured_in_memory_shows_none(terminal: TextIO) -> None:
    assert not progress_enabled(stdout=io.StringIO(), stderr=terminal)
