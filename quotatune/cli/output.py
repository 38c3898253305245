"""Small printing helpers for command modules (the library itself never prints)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from quotatune.model.nametext import shown
from quotatune.pipelines.progress import NO_PROGRESS, Progress


def err(line: str) -> None:
    """One line on stderr; what it quotes of the input (names, file names, messages) shown
    with control and bidirectional characters as escapes."""
    print(shown(line), file=sys.stderr)


def one_line_tls_warning() -> None:
    """urllib3 warns of each unverified HTTPS request in two lines of source context; a
    kubeconfig with ``insecure-skip-tls-verify`` or a Docker TLS host without verification
    gets one line instead, once per command."""
    import re
    import warnings

    shown = warnings.showwarning
    said: list[str] = []

    def show(message: Warning | str, category: type[Warning], *args: object,
             **kwargs: object) -> None:
        if category.__name__ != "InsecureRequestWarning":
            shown(message, category, *args, **kwargs)  # type: ignore[arg-type]
            return
        if not said:
            m = re.search(r"host '([^']*)'", str(message))
            said.append(m.group(1) if m else "the server")
            err(f"quotatune: warning: TLS certificate verification is off for {said[0]}: "
                "the server is not authenticated")

    warnings.showwarning = show


def progress_enabled(stdout: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """Progress bars only when the command runs on a terminal: its stderr, where the bar is
    drawn, and its stdout too, so ``quotatune import … | cat`` (stderr still on the terminal)
    stays quiet like cron and redirects.  The streams default to the process's own."""
    return (sys.stdout if stdout is None else stdout).isatty() and \
        (sys.stderr if stderr is None else stderr).isatty()


class DayProgress:
    """A rich progress bar of the days read, on a terminal only (quiet under ``--cron`` and
    in pipes); call it as ``on_day(done, total)``.  Use as a context manager."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled and progress_enabled()
        self._bar: object = None
        self._task: object = None

    def __enter__(self) -> DayProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress

            # On stderr, like every other bar: stdout carries the command's output.
            self._bar = Progress(transient=True, console=Console(stderr=True))
            self._bar.start()  # type: ignore[attr-defined]
            self._task = self._bar.add_task(self.label, total=None)  # type: ignore[attr-defined]
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()  # type: ignore[attr-defined]


@contextlib.contextmanager
def progress(quiet: bool = False) -> Iterator[Progress]:
    """A progress bar on stderr for a flow that takes a :class:`Progress` — only on a
    terminal (:func:`progress_enabled`) and not ``quiet`` (``--cron``); otherwise the silent
    one.  Usage::

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
