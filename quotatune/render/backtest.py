"""The backtest's table and its self-contained HTML page (allocation against overrun)."""

from __future__ import annotations

from typing import Any

_HEAD = ("strategy", "containers", "cores", "cpu_slack", "cpu_over", "mem_GiB", "mem_slack",
         "mem_oom_vms")


def _cells(r: dict[str, Any]) -> list[str]:
    return [str(r["strategy"]), str(r["containers"]), f"{r['cores']:,.1f}",
            f"{r['cpu_slack'] * 100:.1f} %", f"{r['cpu_over'] * 100:.2f} %",
            f"{r['mem_gib']:,.1f}", f"{r['mem_slack'] * 100:.1f} %", str(r["mem_oom_vms"])]


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
