"""quotatune backtest — replay history: train, recommend once, score the following days."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def command(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="More --from files or --strategy names (after a flag, a shell "
                       "glob or several names arrive here)."),
    ] = None,
    from_files: Annotated[
        list[Path] | None, typer.Option("--from", help="Usage files to replay.")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Format of --from files.")] = None,
    train_days: Annotated[float, typer.Option("--train-days", help="Days to train on.")] = 14.0,
    test_days: Annotated[float, typer.Option("--test-days", help="Days to score.")] = 7.0,
    strategy: Annotated[
        list[str] | None,
        typer.Option("--strategy", help="Strategy name(s); default: every strategy."),
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="table, json or html.")] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file for -o html (default: reports dir).")
    ] = None,
) -> None:
    """Train on the first days of every container, recommend once, score the next days."""
    from quotatune.analyze.backtest import backtest
    from quotatune.analyze.recommend import STRATEGIES
    from quotatune.collect.registry import import_files
    from quotatune.errors import InputError

    if output not in ("table", "json", "html"):
        raise InputError(f"unknown output {output!r}; use table, json or html")
    files = list(from_files or [])
    names = [n for s in strategy or [] for n in s.split(",") if n]
    for a in args or []:
        if a in STRATEGIES and names:
            names.append(a)
        elif files and Path(a).is_file():
            files.append(Path(a))
        else:
            raise InputError(f"unexpected argument {a!r}: not a file after --from, nor a "
                             f"strategy after --strategy ({', '.join(STRATEGIES)})")
    if not files:
        raise InputError("backtest needs --from FILE… with the usage history to replay")
    data = import_files(files, fmt)
    if data.usage.empty:
        raise InputError("no usage samples in the given files")
    scores = backtest(data.usage, names or list(STRATEGIES), specs=data.specs,
                      events=data.events, train_days=train_days, test_days=test_days)
    rows = [s.to_dict() for s in scores]
    if output == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    sys.stdout.write(_table(rows, train_days, test_days))
    if output == "html":
        from quotatune import config

        path = out or config.reports_dir(None) / "backtest.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_html(rows, train_days, test_days), encoding="utf-8")
        sys.stdout.write(f"wrote {path}\n")


_HEAD = ("strategy", "containers", "cores", "cpu_slack", "cpu_over", "mem_GiB", "mem_slack",
         "mem_oom_vms")


def _cells(r: dict[str, Any]) -> list[str]:
    return [str(r["strategy"]), str(r["containers"]), f"{r['cores']:,.1f}",
            f"{r['cpu_slack'] * 100:.1f} %", f"{r['cpu_over'] * 100:.2f} %",
            f"{r['mem_gib']:,.1f}", f"{r['mem_slack'] * 100:.1f} %", str(r["mem_oom_vms"])]


def _table(rows: list[dict[str, Any]], train: float, test: float) -> str:
    body = [list(_HEAD)] + [_cells(r) for r in rows]
    widths = [max(len(row[i]) for row in body) for i in range(len(_HEAD))]
    lines = [f"backtest: train {train:g} days, score the next {test:g} days"]
    for row in body:
        lines.append("  ".join(c.rjust(w) if k else c.ljust(w)
                               for k, (c, w) in enumerate(zip(row, widths, strict=True))))
    notes = [f"{r['strategy']}: {r['left_out']} container(s) left out (too little training "
             "data, or no current values)" for r in rows if r.get("left_out")]
    return "\n".join(lines + notes) + "\n"


def _html(rows: list[dict[str, Any]], train: float, test: float) -> str:
    """Self-contained page: the table and the frontier (allocation vs. overrun) per resource."""
    import html

    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "CPU: cores allocated vs share of samples over the request",
        "Memory: GiB allocated vs containers above the limit"))
    for r in rows:
        name = str(r["strategy"])
        fig.add_trace(go.Scatter(x=[r["cores"]], y=[r["cpu_over"] * 100], name=name,
                                 mode="markers+text", text=[name], textposition="top center",
                                 legendgroup=name), row=1, col=1)
        fig.add_trace(go.Scatter(x=[r["mem_gib"]], y=[r["mem_oom_vms"]], name=name,
                                 mode="markers+text", text=[name], textposition="top center",
                                 legendgroup=name, showlegend=False), row=1, col=2)
    fig.update_xaxes(title_text="cores", row=1, col=1)
    fig.update_yaxes(title_text="cpu_over %", row=1, col=1)
    fig.update_xaxes(title_text="GiB", row=1, col=2)
    fig.update_yaxes(title_text="containers above limit", row=1, col=2)
    plot = fig.to_html(full_html=False, include_plotlyjs=True)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEAD)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r)) + "</tr>"
                   for r in rows)
    title = f"quotatune backtest: train {train:g} days, score {test:g} days"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1><table border='1'>"
            f"<tr>{head}</tr>{body}</table>{plot}</body></html>\n")
