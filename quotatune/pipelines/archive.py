"""The reports directory: dated file names, atomic writes, a lock, retention, the index.

This is the I/O half of ``quotatune report`` (the CLI calls it; rendering stays pure).
- Names: ``quotatune-report-YYYYMMDDTHHMMZ.html`` (UTC, from the caller's clock); a second
  report in the same minute gets ``-2``, ``-3``….
- Writes: a temporary file in the same directory, fsync, rename — a reader sees the old file
  or the new one, never half.  Files are owner-only (0600, the directory 0700; group-readable
  with QUOTATUNE_GROUP_READABLE=1, see :mod:`quotatune.store.modes`): reports quote log lines.
- Lock: ``.quotatune-report.lock`` with ``flock``; an overlapping run waits up to its
  ``wait`` seconds and then gives up with :class:`LockHeld` naming the holder.  The kernel
  drops the lock when a process dies, so a killed run never blocks the next one.
- Retention touches only files whose names match the pattern above.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from quotatune.render.html.index import IndexEntry, render_index
from quotatune.store import lock as filelock
from quotatune.store import modes

PREFIX = "quotatune-report-"
NAME = re.compile(r"^quotatune-report-(\d{8}T\d{4})Z(?:-(\d+))?\.html$")
LOCK_NAME = ".quotatune-report.lock"
INDEX_NAME = "index.html"
_META = re.compile(r'<script type="application/json" id="quotatune-meta">(.*?)</script>', re.S)


class LockHeld(Exception):
    """Another report run holds the reports directory."""


def report_path(out: Path, now: datetime) -> Path:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%MZ")
    path = out / f"{PREFIX}{stamp}.html"
    n = 2
    while path.exists():
        path = out / f"{PREFIX}{stamp}-{n}.html"
        n += 1
    return path


def make_dir(out: Path) -> None:
    """The reports directory (or a backtest page's), created owner-only."""
    modes.make_dir(out)


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        modes.fix_fd(fd)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(out: Path, wait: float = 0.0, now: datetime | None = None) -> Iterator[None]:
    """Hold the reports directory's lock; wait up to ``wait`` seconds for another run."""
    path = out / LOCK_NAME
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    held = contextlib.ExitStack()
    try:
        held.enter_context(filelock.exclusive(
            path, wait, holder=f"pid {os.getpid()} since {stamp}", poll=0.2))
    except filelock.LockTimeout as exc:
        raise LockHeld(
            f"another report run holds {path}"
            + (f" ({exc.holder})" if exc.holder else "")
            + (f"; waited {wait:g} s" if wait else "")
        ) from None
    with held:
        _tighten(out)  # reports written 0644 by an older version
        yield


def _tighten(out: Path) -> None:
    for p in [p for p, _ in list_reports(out)] + [out / INDEX_NAME]:
        with contextlib.suppress(OSError):
            if p.exists() and p.stat().st_mode & 0o777 != modes.file_mode():
                modes.fix_path(p)


def report_time(name: str) -> datetime | None:
    m = NAME.match(name)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M").replace(tzinfo=UTC)


def _sequence(name: str) -> int:
    """Reports of the same minute are numbered -2, -3 …; the first has no number."""
    m = NAME.match(name)
    return int(m.group(2)) if m and m.group(2) else 1


def list_reports(out: Path) -> list[tuple[Path, datetime]]:
    found = []
    for p in out.iterdir() if out.is_dir() else []:
        when = report_time(p.name)
        if when is not None and p.is_file():
            found.append((p, when))
    return sorted(found, key=lambda pw: (pw[1], _sequence(pw[0].name)))


def prune(out: Path, now: datetime, *, keep: int | None = None, keep_days: float | None = None,
          protect: Path | None = None) -> list[Path]:
    """Delete reports beyond the newest ``keep`` and older than ``keep_days``; never
    ``protect`` (the report just written).  Returns what was deleted."""
    reports = list_reports(out)
    doomed: set[Path] = set()
    if keep is not None:
        doomed.update(p for p, _ in reports[:max(len(reports) - keep, 0)])
    if keep_days is not None:
        cutoff = now - timedelta(days=keep_days)
        doomed.update(p for p, when in reports if when < cutoff)
    if protect is not None:
        doomed.discard(protect)
    removed = []
    for p in sorted(doomed):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    return removed


def read_meta(path: Path) -> dict[str, Any] | None:
    """The summary a report carries in its head (the first 64 KiB hold it)."""
    try:
        with path.open("rb") as f:
            head = f.read(65536).decode("utf-8", "replace")
    except OSError:
        return None
    m = _META.search(head)
    if not m:
        return None
    try:
        meta = json.loads(m.group(1))
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


def update_index(out: Path, now: datetime) -> Path:
    entries = [IndexEntry(p.name, when, read_meta(p), p.stat().st_size)
               for p, when in list_reports(out)]
    path = out / INDEX_NAME
    write_atomic(path, render_index(entries, now))
    return path


@dataclass(frozen=True)
class Written:
    report: Path
    index: Path
    removed: tuple[Path, ...]


def publish(out: Path, html: str, now: datetime, *, keep: int | None = None,
            keep_days: float | None = None) -> Written:
    """Write the report under its dated name, apply retention, rebuild the index.
    The caller holds :func:`locked`."""
    path = report_path(out, now)
    write_atomic(path, html)
    removed = prune(out, now, keep=keep, keep_days=keep_days, protect=path)
    return Written(path, update_index(out, now), tuple(removed))
