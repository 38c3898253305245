"""The backtest's table and its self-contained HTML page (allocation against overrun)."""

from __future__ import annotations

import json
import math
from typing import Any

# What -o json shows of each number: sums of whole millicores and MiB, and shares of samples,
# come out of float arithmetic with noise in the last bits (12.299999999999999 cores).  What
# is computed is not rounded; what is shown is, per kind: cores to 4 decimals (a tenth of a
# millicore: a median of two totals can end in a half), GiB to 4 (a tenth of a MiB), shares
# of samples and containers to 6 (a ten-thousandth of a percentage point: a 0.01 % overrun
# keeps its digits), ratios to a reference strategy to 4; a median of counts to 1.
DECIMALS = {"cores": 4, "mem_gib": 4, "cpu_slack": 6, "cpu_over": 6, "mem_slack": 6,
            "mem_oom_vms": 1}
RATIO_DECIMALS = 4  # oom_vs_krr, gib_vs_krr, cores_vs_krr, cores_vs_vpa

_HEAD = ("strategy", "containers", "cores", "cpu_slack", "cpu_over", "mem_GiB", "mem_slack",
         "mem_oom_vms")


def _cells(r: dict[str, Any]) -> list[str]:
    return [str(r["strategy"]), str(r["containers"]), f"{r['cores']:,.1f}",
            f"{r['cpu_slack'] * 100:.1f} %", f"{r['cpu_over'] * 100:.2f} %",
            f"{r['mem_gib']:,.1f}", f"{r['mem_slack'] * 100:.1f} %", str(r["mem_oom_vms"])]


def shown_number(metric: str, value: Any) -> Any:
    """``value`` of ``metric`` as -o json shows it (see :data:`DECIMALS`); anything but a
    finite float (counts, names, None) as it is."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    decimals = RATIO_DECIMALS if "_vs_" in metric else DECIMALS.get(metric)
    return value if decimals is None else round(value, decimals)


def render_backtest_json(rows: list[dict[str, Any]]) -> str:
    """One score row per strategy, each number to its kind's precision."""
    return json.dumps([{k: shown_number(k, v) for k, v in r.items()} for r in rows],
                      indent=2) + "\n"


def render_folds_json(rows: list[dict[str, Any]], summary: list[dict[str, Any]]) -> str:
    """Every fold's scores and the worst / median / best per metric, each number to its
    metric's precision."""
    folds = [{k: shown_number(k, v) for k, v in r.items()} for r in rows]
    spread = [{k: shown_number(str(s["metric"]), v) if k in ("worst", "median", "best") else v
               for k, v in s.items()} for s in summary]
    return json.dumps({"folds": folds, "summary": spread}, indent=2) + "\n"


def render_backtest_table(rows: list[dict[str, Any]], train: float, test: float) -> str:
    body = [list(_HEAD)] + [_cells(r) for r in rows]
    widths = [max(len(row[i]) for row in body) for i in range(len(_HEAD))]
    lines = [f"backtest: train {train:g} days, score the next {test:g} days"]
    for row in body:
        lines.append("  ".join(c.rjust(w) if k else c.ljust(w)
                               for k, (c, w) in enumerate(zip(row, widths, strict=True))))
    notes = [f"{r['strategy']}: {r['left_out']} container(s) left out (too little training "
             "data, or no current values)" for r in rows if r.get("left_out")]
    return "\n".join(lines + notes) + "\n"


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if k else c.ljust(w)
                      for k, (c, w) in enumerate(zip(row, widths, strict=True))) for row in rows]


def render_folds_table(rows: list[dict[str, Any]], summary: list[dict[str, Any]]) -> str:
    """Every fold, then the worst / median / best fold per strategy and metric: parameters are
    judged by the worst one."""
    head = ["shape", "origin", *_HEAD]
    body = [head] + [[str(r["shape"]), str(r["origin"]), *_cells(r)] for r in rows]
    lines = ["backtest: rolling-origin folds (train before the origin, score the days after it)",
             *_columns(body), "", "worst / median / best fold"]
    pct = {"cpu_slack", "cpu_over", "mem_slack"}
    table = [["shape", "strategy", "metric", "worst", "median", "best", "folds"]]
    for s in summary:
        fmt = (lambda v: f"{v * 100:.2f} %") if s["metric"] in pct else (lambda v: f"{v:,.3f}")
        table.append([str(s["shape"]), str(s["strategy"]), str(s["metric"]), fmt(s["worst"]),
                      fmt(s["median"]), fmt(s["best"]), str(s["folds"])])
    return "\n".join(lines + _columns(table)) + "\n"


def render_backtest_html(rows: list[dict[str, Any]], train: float, test: float) -> str:
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
