"""Typed field access for Docker Engine payloads: every wrong type or value becomes one
InputError line naming the field's path in the payload."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from quotatune.model.errors import InputError

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:?\d{2})?$"
)


def num(d: Mapping[str, Any], path: str, what: str, within: str = "") -> int | float | None:
    """A non-negative finite number at a dotted path, None when absent or null.  ``within``
    names where ``d`` sits in the payload, for the message."""
    cur: Any = d
    full = f"{within}.{path}" if within else path
    for part in path.split("."):
        if cur is None:
            return None
        if not isinstance(cur, Mapping):
            raise InputError(f"{what}: {full}: expected an object at {part!r}")
        cur = cur.get(part)
    if cur is None:
        return None
    if isinstance(cur, bool) or not isinstance(cur, int | float):
        raise InputError(f"{what}: {full} is not a number: {str(cur)[:40]!r}")
    if not math.isfinite(cur) or cur < 0:
        raise InputError(f"{what}: {full} is negative or not finite: {cur!r}")
    return cur


def obj(v: Any, what: str, field: str) -> Mapping[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise InputError(f"{what}: {field} is not an object")
    return v


def string(v: Any, what: str, field: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise InputError(f"{what}: {field} is not a string")
    return v


def strings(v: Any, what: str, field: str, *, one_string_ok: bool = True) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str) and one_string_ok:  # Cmd/Entrypoint: a plain string in old payloads
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InputError(f"{what}: {field} is not a list of strings")
    return tuple(v)


def parse_time(v: Any, what: str, field: str) -> pd.Timestamp | None:
    """An RFC 3339 time from the Engine; Go's zero time ("0001-01-01T00:00:00Z") is None."""
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise InputError(f"{what}: {field} is not a time string")
    if v.startswith("0001-01-01"):
        return None
    if not _RFC3339.match(v):  # pd.Timestamp alone would also take "now" or "2024"
        raise InputError(f"{what}: {field} is not an RFC 3339 time: {v[:40]!r}")
    try:
        t = pd.Timestamp(v)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"{what}: {field} is not an RFC 3339 time: {v[:40]!r}") from exc
    if pd.isna(t):
        raise InputError(f"{what}: {field} is not an RFC 3339 time: {v[:40]!r}")
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
