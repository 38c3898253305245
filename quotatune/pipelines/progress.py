"""How a long flow reports where it is, without printing: the CLI passes an object that
draws a bar on a terminal (:func:`quotatune.cli.output.progress`), everyone else the silent
:data:`NO_PROGRESS`.  A flow announces a phase with its number of steps, then advances it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from quotatune.model.collected import Collected


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


def day_steps(progress: Progress, label: str) -> Callable[[int, int], None]:
    """An ``on_day(done, total)`` callback (the store's, the day-by-day readers') drawn as a
    phase of ``progress``: the phase starts at the first call, then advances to ``done``."""
    shown = {"done": 0, "started": False}

    def on_day(done: int, total: int) -> None:
        if not shown["started"]:
            progress.phase(label, total)
            shown["started"] = True
        if done > shown["done"]:
            progress.advance(steps=done - shown["done"])
            shown["done"] = done

    return on_day


def files_read(progress: Progress, chunks: Iterable[tuple[int, Path, Collected]],
               files: int, label: str = "reading files"
               ) -> Iterator[tuple[int, Path, Collected]]:
    """The chunks of :func:`quotatune.sources.registry.iter_files`, passed through and drawn
    as a phase (files done, rows read)."""
    progress.phase(label, files)
    done = 0
    for i, path, chunk in chunks:
        rows = len(chunk.columns) if chunk.columns is not None else len(chunk.usage)
        progress.advance(steps=i - done, rows=rows)
        done = i
        yield i, path, chunk
    progress.advance(steps=files - done)
