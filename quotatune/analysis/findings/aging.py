"""Findings age: a failure older than ``--since`` is history.

A failure that has not happened within the window (an OOM kill 40 days ago on a pod that has
run fine since) is kept, so that the report still tells its story, but as ``info``: it can no
longer make ``--fail-on critical`` fail a nightly job. A finding is dated by its newest
occurrence (the ``at`` of an OOM finding is the last kill), so a failure that recurred within
the window keeps its severity; findings about the present configuration (``at`` null: a heap
that cannot fit its limit, a non-ASCII variable) do not age.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from quotatune.model import Finding, format_time

HISTORY = "info"


def age(findings: list[Finding], since: Any) -> list[Finding]:
    """``findings`` with those last seen before ``since`` turned into history (``info``);
    ``since`` None keeps every finding at its severity."""
    if since is None:
        return findings
    cut = _utc(since)
    out = []
    for f in findings:
        if f.at is not None and f.severity != HISTORY and _utc(f.at) < cut:
            note = (f"history: last seen {f.at}, before the window that starts "
                    f"{format_time(cut)} (--since); was {f.severity}")
            f = replace(f, severity=HISTORY, evidence=(*f.evidence, note))
        out.append(f)
    return out


def _utc(t: Any) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
