"""Defensive reads of decoded Kubernetes JSON: a field of the wrong type is empty, not a crash
(payloads come from many versions and from hand-edited dumps)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd


def as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def as_str(v: Any) -> str:
    """Text fields: a number is written out, anything else that is not text is empty."""
    if isinstance(v, str):
        return v
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else ""


def as_time(v: Any) -> Any:
    """A UTC Timestamp, or NaT for a missing or unreadable time."""
    if isinstance(v, datetime):  # YAML gives unquoted RFC 3339 times as datetimes
        t = pd.Timestamp(v)
        return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    if not isinstance(v, str) or not v:
        return pd.NaT
    try:
        # RFC 3339 as the API writes it: fromisoformat is ~10x faster than pandas' parser
        dt = datetime.fromisoformat(v)
        t = pd.Timestamp(dt)
    except (ValueError, TypeError, OverflowError):
        try:
            t = pd.Timestamp(v)
        except (ValueError, TypeError, OverflowError):
            return pd.NaT
    if pd.isna(t):
        return pd.NaT
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
