"""Small printing helpers for command modules (the library itself never prints)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from quotatune.pipelines.progress import NO_PROGRESS, Progress


def err(line: str) -> None:
    print(line, file=sys.stderr)


def progress_enabled() -> bool:
    """Progress bars only on a terminal: cron and pipes stay quiet."""
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress(quiet: bool = False) -> Iterator[Progress]:
    """A progress bar on stderr for a flow that takes a :class:`Progress` — only when stderr
    is a terminal and not ``quiet`` (``--cron``); otherwise the silent one.  Usage::

        with progress(quiet=cron) as bar:
            result = some_flow(..., progress=bar)
    """
    if quiet or not progress_enabled():
        yield NO_PROGRESS
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rows]}"), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    )
    with bar:
        yield _Bar(bar)


class _Bar:
    """:class:`Progress` drawn by rich: one task per phase, rows read shown beside it."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._task: Any = None
        self._rows = 0

    def phase(self, description: str, total: int | None = None) -> None:
        if self._task is not None:
            self._bar.update(self._task, visible=False)
        self._task = self._bar.add_task(description, total=total, rows="")

    def advance(self, steps: int = 1, rows: int = 0) -> None:
        if self._task is None:
            self.phase("working")
        self._rows += rows
        self._bar.update(self._task, advance=steps,
                         rows=f"{self._rows:,} rows" if self._rows else "")
