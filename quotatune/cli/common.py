"""What analysing commands share: where their input comes from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from quotatune.model import Target
from quotatune.model.errors import InputError

if TYPE_CHECKING:
    pass


def split_target_and_files(
    args: list[str], from_files: list[Path] | None
) -> tuple[Target, list[Path]]:
    """``recommend shop/web --from a.csv b.csv`` and ``--from data/*.gz``: a shell glob after
    ``--from`` arrives as extra positional arguments, so existing files among the positional
    arguments are inputs when ``--from`` is given, and the one left over is the target."""
    files = list(from_files or [])
    rest: list[str] = []
    for a in args:
        if files and Path(a).is_file():
            files.append(Path(a))
        else:
            rest.append(a)
    if len(rest) > 1:
        raise InputError(
            f"expected at most one TARGET (ns/, ns/workload or ns/workload/container), got: "
            f"{' '.join(rest[:4])}"
        )
    return Target.parse(rest[0] if rest else None), files


def parse_now(text: str | None) -> datetime:
    """The hidden ``--now`` clock override (RFC 3339) of commands that read "the last N days":
    tests and backfills pin the clock with it; without it, the wall clock."""
    if not text:
        return datetime.now(UTC)
    try:
        t = pd.Timestamp(text)
    except ValueError:
        raise InputError(f"bad --now {text!r}: use RFC 3339, e.g. 2026-11-27T23:00:00Z") from None
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).to_pydatetime()
