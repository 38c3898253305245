"""The terminal table of recommendations."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quotatune.model import Recommendation
from quotatune.model.nametext import shown
from quotatune.model.units import format_cpu, format_memory_mib


def _cpu(v: int | None) -> str:
    return "-" if v is None else format_cpu(v)


def _mem(v: int | None) -> str:
    return "-" if v is None else format_memory_mib(v)


def _change(cur: str, new: str) -> str:
    if new == "-":  # nothing recommended (no usage yet): what runs now
        return cur
    return new if cur in ("-", new) else f"{cur} → {new}"


def render_table(recs: list[Recommendation], *, width: int | None = None,
                 color: bool = False) -> str:
    t = Table(show_lines=False, header_style="bold")
    for col in ("namespace", "workload", "container"):
        t.add_column(col, overflow="fold")
    t.add_column("cpu request", justify="right")
    t.add_column("mem request", justify="right")
    t.add_column("mem limit", justify="right")
    t.add_column("samples", justify="right")
    t.add_column("history", justify="right")
    t.add_column("confidence")
    t.add_column("status")
    for r in recs:
        c = r.current
        # Names are data, not markup: "[bold]" in a pod name must print as typed, and an
        # escape sequence or RTL override (a store written before names were checked)
        # as its escape.
        t.add_row(
            escape(shown(r.namespace)), escape(shown(r.workload)), escape(shown(r.container)),
            _change(_cpu(c.cpu_request_millicores), _cpu(r.cpu_request_millicores)),
            _change(_mem(c.memory_request_mib), _mem(r.memory_request_mib)),
            _change(_mem(c.memory_limit_mib), _mem(r.memory_limit_mib)),
            str(r.samples), f"{r.history_hours:.0f}h", r.confidence, r.status,
        )
    buf = io.StringIO()
    console = Console(file=buf, width=width or 160, force_terminal=color, no_color=not color,
                      highlight=False)
    console.print(t)
    return buf.getvalue()
