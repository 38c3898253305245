"""The terminal table of findings: one block per finding, evidence lines under its headline.

Evidence holds raw log lines from dying containers; they are rendered as plain
:class:`rich.text.Text` (never as markup) with control and bidirectional formatting
characters made visible, so a log line can neither restyle nor move the terminal's cursor,
nor make the text around it read backwards.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from quotatune.model import Finding
from quotatune.model.nametext import shown

_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def safe(text: str) -> str:
    """Control characters (ESC, BEL, CR…) and format characters (U+202E…) shown as their
    escapes (\\x1b, \\u202e) instead of acting on the terminal; tabs and newlines kept."""
    return shown(text, keep="\t\n")


def render_findings_table(findings: list[Finding], *, width: int | None = None,
                          color: bool = False) -> str:
    if not findings:
        return "no findings\n"
    t = Table(show_lines=True, header_style="bold")
    t.add_column("severity")
    t.add_column("kind")
    t.add_column("container", overflow="fold")
    t.add_column("at")
    t.add_column("evidence and advice", overflow="fold", ratio=1)
    for f in findings:
        name = "/".join(p for p in (f.namespace, f.workload, f.container) if p)
        body = Text()
        for e in f.evidence:
            body.append("• " + safe(e) + "\n")
        body.append("→ " + safe(f.advice), style="bold" if color else "")
        t.add_row(Text(f.severity, style=_STYLE.get(f.severity, "") if color else ""),
                  Text(f.kind), Text(safe(name)), Text(f.at or "-"), body)
    buf = io.StringIO()
    console = Console(file=buf, width=width or 160, force_terminal=color, no_color=not color,
                      highlight=False)
    console.print(t)
    counts = {s: sum(f.severity == s for f in findings) for s in ("critical", "warning", "info")}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return buf.getvalue()
