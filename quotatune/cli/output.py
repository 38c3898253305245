"""Small printing helpers for command modules (the library itself never prints)."""

from __future__ import annotations

import sys


def err(line: str) -> None:
    print(line, file=sys.stderr)


def progress_enabled() -> bool:
    """Progress bars only on a terminal: cron and pipes stay quiet."""
    return sys.stderr.isatty()


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
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._bar.start()  # type: ignore[attr-defined]
            self._task = self._bar.add_task(self.label, total=None)  # type: ignore[attr-defined]
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()  # type: ignore[attr-defined]
