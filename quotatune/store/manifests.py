"""A day's manifest, read and checked in one place, and the files it names read through it.

See docs/architecture.md, "The store".  ``ROOT/usage/day=YYYY-MM-DD/manifest.json`` is the
commit point of a day: ``{"data": "data-<token>.parquet", "rows": N, "rollup":
"rollup-<token>.parquet", "rollup_version": "2"}`` (the rollup keys only when the store
keeps rollups).  Every reader (the history, the day commits, retention, status, the clean-up
of a day's unreferenced files) takes it from :func:`load`, so a damaged one is one line that
names the file, the same in every command, and never a ``TypeError`` deep in a reader.  The
files it names must be plain names inside the day's directory: a manifest naming
``../../x`` would have a reader (or the clean-up beside it) reach outside the store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from quotatune.model.errors import first_line
from quotatune.store.errors import StoreError

MANIFEST = "manifest.json"
# The keys a manifest may name a file by; "data" is the one every day has.
FILE_KEYS = ("data", "rollup")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
# A reader retries a day whose manifest a writer replaced under it this many times.
ATTEMPTS = 5

T = TypeVar("T")


def is_day(name: str) -> bool:
    """Whether ``name`` (a ``day=`` directory without its prefix) is a calendar day: only
    those are the store's; ``day=2099-99-99`` is someone else's and every command skips it
    alike (the backtest parsed it as a date and failed)."""
    if not _DAY.match(name):
        return False
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True


def load(d: Path) -> dict[str, Any] | None:
    """The checked manifest of the day directory ``d``; None when it has none (a day never
    written, or dropped by a prune that runs beside the reader)."""
    path = d / MANIFEST
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{path}: unreadable manifest: {exc.strerror or exc}") from None
    try:
        m = json.loads(text)
    except ValueError as exc:
        raise StoreError(f"{path}: damaged manifest: {first_line(exc)}") from None
    problem = _shape_problem(m)
    if problem:
        raise StoreError(f"{path}: damaged manifest: {problem}")
    return m  # type: ignore[no-any-return]


def _shape_problem(m: Any) -> str | None:
    """What is wrong with a parsed manifest, or None."""
    if not isinstance(m, dict):
        return f"a JSON object expected, not {type(m).__name__}"
    if "data" not in m:
        return "no 'data' file named"
    for key in FILE_KEYS:
        value = m.get(key)
        if value is None and key != "data":
            continue
        if not _plain_name(value):
            return f"{key!r} must name a file in the day's directory, not {_shown(value)}"
    rows = m.get("rows")
    if rows is not None and (type(rows) is not int or rows < 0):
        return f"'rows' must be a count, not {_shown(rows)}"
    version = m.get("rollup_version")
    if version is not None and not isinstance(version, str):
        return f"'rollup_version' must be text, not {_shown(version)}"
    return None


def _plain_name(value: Any) -> bool:
    return (isinstance(value, str) and value not in ("", ".", "..")
            and "/" not in value and "\\" not in value and "\0" not in value)


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def named_files(d: Path) -> set[str] | None:
    """The files ``d``'s manifest names (and the manifest itself); None when the manifest
    is damaged or unreadable, so that a clean-up keeps everything rather than guess."""
    try:
        m = load(d)
    except StoreError:
        return None
    if m is None:
        return {MANIFEST}
    return {MANIFEST, *(m[k] for k in FILE_KEYS if m.get(k))}


def read_named(d: Path, what: str, read: Callable[[Path], T]) -> T | None:
    """``read`` of the file the manifest of ``d`` names under ``what`` (None: the day or
    that file is absent).  A file gone while the manifest still names it is a damaged
    store, said so with the file's name; gone because a writer replaced the day (the
    manifest now names another file) or a prune dropped it, the day is read again."""
    for _ in range(ATTEMPTS):
        m = load(d)
        if m is None or not m.get(what):
            return None
        path = d / m[what]
        try:
            return read(path)
        except FileNotFoundError:
            now = load(d)
            if now is not None and now.get(what) == m[what]:
                raise StoreError(f"{path}: missing store file (named by the day's "
                                 f"{MANIFEST})") from None
    raise StoreError(f"{d}: kept changing while being read")
