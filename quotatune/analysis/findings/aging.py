"""Findings age: a failure older than ``--since`` is history.

A failure that has not happened within the window (an OOM kill 40 days ago on a pod that has
run fine since) is kept, so that the report still tells its story, but as ``info``: it can no
longer make ``--fail-on critical`` fail a nightly job. A finding is dated by its newest
occurrence (the ``at`` of an OOM finding is the last kill), so a failure that recurred within
the window keeps its severity; findings about the present configuration (``at`` null: a heap
that cannot fit its limit, a non-ASCII variable) do not age.

A kill also ages when the container's current run started before the window and no kill of
it is known after that start: the kill is behind the run, whatever its recorded time (some
sources know a last termination without its time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from quotatune.model import ContainerKey, Finding, format_time

HISTORY = "info"
# Kinds that are one past failure (a crash loop's time is now while it lasts).
KILLS = ("oom-killed", "exit-137")


def age(findings: list[Finding], since: Any,
        starts: Mapping[ContainerKey, pd.Timestamp] | None = None) -> list[Finding]:
    """``findings`` with those last seen before ``since`` turned into history (``info``);
    ``since`` None keeps every finding at its severity. ``starts``: the newest start of each
    container's current run."""
    if since is None:
        return findings
    cut = _utc(since)
    out = []
    for f in findings:
        if f.severity != HISTORY:
            note = _why_history(f, cut, (starts or {}).get(
                ContainerKey(f.namespace, f.workload, f.container)))
            if note:
                f = replace(f, severity=HISTORY, evidence=(*f.evidence, f"{note}; was "
                                                           f"{f.severity}"))
        out.append(f)
    return out


def _why_history(f: Finding, cut: pd.Timestamp, start: pd.Timestamp | None) -> str | None:
    at = None if f.at is None else _utc(f.at)
    if at is not None and at < cut:
        return (f"history: last seen {f.at}, before the window that starts "
                f"{format_time(cut)} (--since)")
    if f.kind in KILLS and start is not None and start < cut and (at is None or at <= start):
        return (f"history: running since {format_time(start)}, before the window that "
                f"starts {format_time(cut)} (--since), and not killed since")
    return None


def _utc(t: Any) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
