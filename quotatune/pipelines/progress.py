"""How a long flow reports where it is, without printing: the CLI passes an object that
draws a bar on a terminal (:func:`quotatune.cli.output.progress`), everyone else the silent
:data:`NO_PROGRESS`.  A flow announces a phase with its number of steps, then advances it."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def phase(self, description: str, total: int | None = None) -> None:
        """Start a phase of ``total`` steps (None: unknown)."""

    def advance(self, steps: int = 1, rows: int = 0) -> None:
        """``steps`` more steps done, and ``rows`` more rows (samples) read."""


class _Silent:
    def phase(self, description: str, total: int | None = None) -> None:
        return None

    def advance(self, steps: int = 1, rows: int = 0) -> None:
        return None


NO_PROGRESS: Progress = _Silent()
