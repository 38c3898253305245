"""``reports/index.html``: the list of past reports, newest first (pure; archive.py writes it).

Each report carries its own summary as JSON in ``<script id="quotatune-meta">``; the index is
rebuilt from the files present, so retention and manual deletions never leave stale rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from quotatune.model import format_time
from quotatune.render.html.report import environment


@dataclass(frozen=True)
class IndexEntry:
    file: str  # name inside the reports directory
    when: datetime  # from the file name (UTC)
    meta: dict[str, Any] | None  # None: the file's summary could not be read
    size_bytes: int = 0


def render_index(entries: list[IndexEntry], generated_at: datetime) -> str:
    rows = sorted(entries, key=lambda e: (e.when, e.file), reverse=True)
    return environment().get_template("index.html.j2").render(
        entries=[_row(e) for e in rows], generated_at=format_time(pd.Timestamp(generated_at)),
    )


def _num(meta: dict[str, Any], key: str) -> float | None:
    v = meta.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _row(e: IndexEntry) -> dict[str, Any]:
    m = e.meta or {}
    findings = m.get("findings") if isinstance(m.get("findings"), dict) else None
    return {
        "file": e.file, "when": format_time(pd.Timestamp(e.when)),
        "readable": e.meta is not None,
        "target": str(m.get("target", "")), "strategy": str(m.get("strategy", "")),
        "containers": _num(m, "containers"),
        "cpu_current": _num(m, "cpu_current"), "cpu_recommended": _num(m, "cpu_recommended"),
        "cpu_net": _num(m, "cpu_net_freed"), "mem_net": _num(m, "mem_net_freed_gib"),
        "findings": {k: int(v) for k, v in findings.items() if isinstance(v, int)}
        if findings else None,
        "size_mb": e.size_bytes / 1e6,
    }
