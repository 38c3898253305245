"""Small printing helpers for command modules (the library itself never prints)."""

from __future__ import annotations

import sys


def err(line: str) -> None:
    print(line, file=sys.stderr)


def progress_enabled() -> bool:
    """Progress bars only on a terminal: cron and pipes stay quiet."""
    return sys.stderr.isatty()
