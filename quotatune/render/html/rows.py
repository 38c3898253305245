"""Cells and rows of the report's tables, built in Python with every value escaped.

The container and coverage tables have a row per container: a thousand rows of a dozen
cells each cost seconds as Jinja macro calls and milliseconds here.  Everything that goes
into the markup passes through :func:`markupsafe.escape`.
"""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup, escape

from quotatune.model import SEVERITIES, format_time
from quotatune.model.nametext import shown
from quotatune.render.html.view import ContainerView


def fmt_cores(v: float | None) -> str:
    return "—" if v is None else f"{v:,.2f}"


def fmt_gib(v: float | None) -> str:
    return "—" if v is None else f"{v:,.1f}"


def fmt_signed(v: float, digits: int = 2) -> str:
    return f"{v:+,.{digits}f}"


def fmt_m(v: int | None) -> str:
    return "—" if v is None else f"{v:,}m"


def fmt_mib(v: int | None) -> str:
    return "—" if v is None else f"{v:,}Mi"


def fmt_pct(v: float | None) -> str:
    return "—" if v is None or math.isnan(v) else f"{v * 100:.0f}%"


def fmt_hours(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v / 24:.1f} d" if v >= 48 else f"{v:.1f} h"


def fmt_num(v: float | None) -> str:
    return "—" if v is None else f"{v:,}"


def fmt_time(t: Any) -> str:
    return format_time(t) or "—"


def num_cell(value: float | int | None, text: object, cls: str = "") -> Markup:
    """A right-aligned cell that sorts by ``value`` (``data-v``; empty sorts last)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        v: object = ""
    elif isinstance(value, int | float):
        v = value  # a number cannot carry markup
    else:
        v = escape(value)
    return Markup(f'<td class="num {escape(cls)}" data-v="{v}">{escape(text)}</td>')


def sev_badge(sev: str, n: int | None = None) -> Markup:
    count = "" if n is None else f" {n}"
    return Markup(f'<span class="badge sev-{escape(sev)}">{escape(sev)}{count}</span>')


def status_badge(status: str) -> Markup:
    return Markup(f'<span class="badge st-{escape(status)}">{escape(status)}</span>')


def _pair(now: int | None, new: int | None, fmt: Any) -> str:
    return num_cell(now, fmt(now)) + num_cell(new, fmt(new), "rec")


def _text(text: str) -> Markup:
    """Outside text (names, reasons) for the page: HTML-escaped, and with bidirectional and
    control characters written as escapes, which HTML escaping leaves acting."""
    return escape(shown(text))


def container_row(c: ContainerView) -> Markup:
    r = c.rec
    cur = r.current if r else None
    name = (Markup('<a href="#{}">{}</a>').format(c.anchor, shown(c.container)) if c.charted
            else _text(c.container))
    worst = ""
    if c.worst:
        worst = sev_badge(c.worst, sum(c.severity_counts.values()))
    rank = SEVERITIES.index(c.worst) + 1 if c.worst in SEVERITIES else 0
    return Markup("".join([
        f'<tr data-key="{_text(c.name)}"><td>{_text(c.namespace)}</td>',
        f"<td>{_text(c.workload)}</td><td>{name}</td>",
        _pair(cur.cpu_request_millicores if cur else None,
              r.cpu_request_millicores if r else None, fmt_m),
        _pair(cur.cpu_limit_millicores if cur else None,
              r.cpu_limit_millicores if r else None, fmt_m),
        num_cell(c.cpu_p95_m, fmt_m(c.cpu_p95_m)),
        _pair(cur.memory_request_mib if cur else None,
              r.memory_request_mib if r else None, fmt_mib),
        _pair(cur.memory_limit_mib if cur else None, r.memory_limit_mib if r else None, fmt_mib),
        num_cell(c.mem_max_mib, fmt_mib(c.mem_max_mib)),
        f"<td>{status_badge(r.status if r else 'no-recommendation')}</td>",
        f"<td>{escape(r.confidence if r else '—')}</td>",
        f'<td data-v="{rank}">{worst}</td>',
        num_cell(c.oom_kills, c.oom_kills or "", "bad" if c.oom_kills else ""),
        num_cell(c.restarts, c.restarts or ""), "</tr>",
    ]))


def coverage_row(c: ContainerView) -> Markup:
    r = c.rec
    hours = r.history_hours if r else None
    low = c.complete is not None and c.complete < 0.8
    return Markup("".join([
        f"<tr><td>{_text(c.name)}</td>", num_cell(c.samples, fmt_num(c.samples)),
        num_cell(c.pods, c.pods), f'<td class="t">{escape(fmt_time(c.first))}</td>',
        f'<td class="t">{escape(fmt_time(c.last))}</td>',
        num_cell(c.step_s, "—" if c.step_s is None else f"{c.step_s:.0f} s"),
        num_cell(c.complete, fmt_pct(c.complete), "bad" if low else ""),
        num_cell(c.span_share, fmt_pct(c.span_share)), num_cell(hours, fmt_hours(hours)),
        f"<td>{escape(r.confidence if r else '—')}</td>",
        f"<td>{status_badge(r.status if r else 'no-recommendation')}</td>",
        f"<td>{_text('; '.join(r.reasons) if r else '')}</td></tr>",
    ]))
