"""Durations as users write them on the command line and in PromQL: "30s", "14d", "1h30m"."""

from __future__ import annotations

import re
from datetime import timedelta

from quotatune.model.errors import InputError

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, flag: str = "duration") -> timedelta:
    """"14d", "1m", "30s", "2h", "1h30m" -> timedelta; InputError otherwise."""
    s = str(text).strip()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if not s or pos != len(s) or total <= 0 or total > 3650 * 86400:
        raise InputError(f"{flag}: not a duration: {s[:40]!r} (use e.g. 30s, 1m, 2h, 14d)")
    return timedelta(seconds=total)
