"""Plotly figures for the report, as plain JSON-ready dicts (data + layout).

Figures are built as dicts rather than ``plotly.graph_objects`` because validating hundreds
of traces costs seconds and the report embeds plotly.js once and draws from JSON anyway.

Plotly renders titles, tick labels and hover text as a small HTML subset, so every name that
goes into a figure passes through :func:`label` (``&``, ``<``, ``>`` and quotes become
entities, which plotly prints back as the literal characters).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from quotatune.model.nametext import shown
from quotatune.render.html.view import ContainerView, Totals, is_missing, is_oom

MAX_POINTS = 720  # per series: a 14-day window at 5-minute samples becomes 28-minute peaks
HIST_BINS = 40
MAX_MARKERS = 200
MIB = float(1 << 20)

CHART_COLUMNS = ("timestamp", "cpu_cores", "memory_working_set_bytes", "cpu_request_cores",
                 "cpu_limit_cores", "memory_request_bytes", "memory_limit_bytes")
BLUE, GREY, RED, GREEN, ORANGE = "#2563eb", "#6b7280", "#dc2626", "#059669", "#d97706"


def label(text: object) -> str:
    # HTML escaping leaves bidirectional overrides acting: they are written as escapes.
    return html.escape(shown(str(text)), quote=True)


def downsample(ts_ns: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS,
               digits: int = 3) -> tuple[list[int], list[float | None], float]:
    """Peak per time bucket (sizing cares about peaks, not means), in epoch milliseconds.

    Buckets are at least the sample step wide; a gap of more than three empty buckets becomes
    a ``None`` so the line breaks instead of drawing a straight line across missing data.
    Returns (x, y, bucket width in seconds).
    """
    if len(ts_ns) == 0:
        return [], [], 0.0
    order = np.argsort(ts_ns, kind="stable")
    t, v = ts_ns[order], values[order]
    width = max(int(t[-1] - t[0]) // max_points + 1, 1)
    uniq = np.unique(t)
    if len(uniq) > 1:
        width = max(width, int(np.median(np.diff(uniq))))
    bucket = (t - t[0]) // width
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    peaks = np.round(np.maximum.reduceat(v, starts), digits)
    ids = bucket[starts]
    x: list[int] = ((t[0] + ids * width) // 1_000_000).tolist()
    y: list[float | None] = peaks.tolist()
    for g in np.flatnonzero(np.diff(ids) > 3)[::-1].tolist():
        x.insert(g + 1, int((t[0] + (ids[g] + 1) * width) // 1_000_000))
        y.insert(g + 1, None)
    return x, y, width / 1e9


def change_points(ts_ns: np.ndarray, values: np.ndarray, digits: int
                  ) -> tuple[list[int], list[float | None]]:
    """A setting over time (a request, a limit) as the points where it changes, plus the last
    one; falls back to peaks per bucket when it changes too often to draw every change."""
    order = np.argsort(ts_ns, kind="stable")
    t, v = ts_ns[order], np.round(values[order], digits)
    keep = np.r_[True, v[1:] != v[:-1]]
    keep[-1] = True
    if keep.sum() > MAX_POINTS:
        x, y, _ = downsample(t, v, digits=digits)
        return x, y
    return (t[keep] // 1_000_000).tolist(), v[keep].tolist()


def _histogram(values: np.ndarray, scale: float, digits: int) -> dict[str, Any]:
    counts, edges = np.histogram(values * scale, bins=HIST_BINS)
    share = counts / max(counts.sum(), 1) * 100
    centers = (edges[:-1] + edges[1:]) / 2
    return {
        "type": "bar", "orientation": "h", "xaxis": "x2", "yaxis": "y",
        "x": np.round(share, 2).tolist(), "y": np.round(centers, digits).tolist(),
        "width": float(edges[1] - edges[0]) if len(edges) > 1 else 1.0,
        "marker": {"color": BLUE, "opacity": 0.55}, "name": "distribution",
        "showlegend": False, "hovertemplate": "%{x:.1f}% of samples near %{y}<extra></extra>",
    }


def _hline(x0: int, x1: int, value: float | None, name: str, color: str, dash: str
           ) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"type": "scatter", "mode": "lines", "x": [x0, x1], "y": [value, value],
            "name": name, "line": {"color": color, "dash": dash, "width": 2},
            "hovertemplate": f"{name}: %{{y}}<extra></extra>"}


def _series_line(ts: np.ndarray, col: pd.Series | None, scale: float, digits: int, name: str,
                 color: str, dash: str) -> dict[str, Any] | None:
    """The current request or limit as the data recorded it over time (it may change)."""
    if col is None:
        return None
    v = col.to_numpy(dtype="float64")
    ok = ~np.isnan(v)
    if not ok.any():
        return None
    x, y = change_points(ts[ok], v[ok] * scale, digits)
    return {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name,
            "line": {"color": color, "dash": dash, "width": 2, "shape": "hv"},
            "hovertemplate": f"{name}: %{{y}}<extra></extra>"}


def container_figures(c: ContainerView, usage: pd.DataFrame, events: pd.DataFrame
                      ) -> dict[str, dict[str, Any]]:
    """CPU and memory over time against current request/limit and the recommendation, with
    the distribution alongside (sharing the y axis) and OOM kills / restarts marked."""
    ts = usage["timestamp"].to_numpy(dtype="datetime64[ns]").astype("int64")
    r = c.rec
    figs: dict[str, dict[str, Any]] = {}
    for kind, col, scale, digits, unit in (
        ("cpu", "cpu_cores", 1.0, 3, "cores"),
        ("mem", "memory_working_set_bytes", 1 / MIB, 1, "MiB"),
    ):
        values = usage[col].to_numpy(dtype="float64")
        x, y, width = downsample(ts, values * scale, digits=digits)
        x0, x1 = (x[0], x[-1]) if x else (0, 0)
        every = _every(width)
        traces: list[dict[str, Any] | None] = [
            {"type": "scatter", "mode": "lines", "x": x,
             "y": y, "name": f"usage (peak per {every})", "line": {"color": BLUE, "width": 1.5},
             "fill": "tozeroy", "fillcolor": "rgba(37,99,235,0.10)",
             "hovertemplate": f"%{{y}} {unit}<extra>usage</extra>"},
        ]
        if kind == "cpu":
            cur_req = r.current.cpu_request_millicores if r else None
            cur_lim = r.current.cpu_limit_millicores if r else None
            rec_req = r.cpu_request_millicores if r else None
            rec_lim = r.cpu_limit_millicores if r else None
            div = 1000.0
            req_col, lim_col = "cpu_request_cores", "cpu_limit_cores"
        else:
            cur_req = r.current.memory_request_mib if r else None
            cur_lim = r.current.memory_limit_mib if r else None
            rec_req = r.memory_request_mib if r else None
            rec_lim = r.memory_limit_mib if r else None
            div = 1.0
            req_col, lim_col = "memory_request_bytes", "memory_limit_bytes"
        cur_req_line = _series_line(ts, usage.get(req_col), scale, digits, "current request",
                                    GREY, "dash") or _hline(
            x0, x1, None if cur_req is None else cur_req / div, "current request", GREY, "dash")
        cur_lim_line = _series_line(ts, usage.get(lim_col), scale, digits, "current limit",
                                    RED, "dot") or _hline(
            x0, x1, None if cur_lim is None else cur_lim / div, "current limit", RED, "dot")
        traces += [
            cur_req_line, cur_lim_line,
            _hline(x0, x1, None if rec_req is None else rec_req / div, "recommended request",
                   GREEN, "solid"),
            _hline(x0, x1, None if rec_lim is None else rec_lim / div, "recommended limit",
                   GREEN, "dash"),
            _histogram(values, scale, digits) if len(values) else None,
        ]
        shapes, marks = _event_marks(events, x0, x1, top=float(np.nanmax(values * scale))
                                     if len(values) else 0.0)
        what = "CPU" if kind == "cpu" else "Memory (working set)"
        figs[kind] = {
            "data": [t for t in traces if t is not None] + (marks if kind == "mem" else []),
            "layout": {
                "title": {"text": f"{what} — {label(c.name)}", "font": {"size": 13},
                          "x": 0.01, "xanchor": "left"},
                "height": 340, "margin": {"l": 60, "r": 10, "t": 36, "b": 90},
                "xaxis": {"type": "date", "domain": [0, 0.8], "showgrid": True},
                "xaxis2": {"domain": [0.83, 1], "rangemode": "tozero", "ticksuffix": "%"},
                "yaxis": {"title": {"text": unit}, "rangemode": "tozero", "anchor": "x"},
                "legend": {"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top",
                           "font": {"size": 11}},
                "shapes": shapes, "hovermode": "closest", "bargap": 0.05,
                "paper_bgcolor": "#ffffff", "plot_bgcolor": "#fafafa",
            },
        }
    return figs


def _every(width_s: float) -> str:
    if width_s >= 3600:
        return f"{width_s / 3600:.3g} h"
    if width_s >= 60:
        return f"{width_s / 60:.3g} min"
    return f"{width_s:.3g} s"


def _event_marks(events: pd.DataFrame, x0: int, x1: int, top: float
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Vertical lines (both charts) and hover markers (memory chart) for OOM kills and
    restarts.  Event messages are log lines: escaped like every other label."""
    if events.empty:
        return [], []
    shapes: list[dict[str, Any]] = []
    groups: dict[str, dict[str, list[Any]]] = {
        "OOM kill": {"x": [], "text": []}, "restart": {"x": [], "text": []}}
    for row in events.sort_values("timestamp").itertuples(index=False):
        at: Any = row.timestamp
        if is_missing(at):
            continue
        what = "OOM kill" if is_oom(row) else (
            "restart" if str(row.kind) == "termination" else None)
        if what is None or len(groups[what]["x"]) >= MAX_MARKERS:
            continue
        ms = int(pd.Timestamp(at).value // 1_000_000)
        color = RED if what == "OOM kill" else ORANGE
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": ms, "x1": ms,
                       "y0": 0, "y1": 1, "line": {"color": color, "width": 1, "dash": "dot"}})
        detail = " ".join(str(p) for p in (row.reason, row.exit_code, row.message)
                          if not is_missing(p) and str(p))
        groups[what]["x"].append(ms)
        groups[what]["text"].append(label(f"{what}: {detail}"[:300]))
    marks = []
    for what, g in groups.items():
        if g["x"]:
            marks.append({"type": "scatter", "mode": "markers", "x": g["x"],
                          "y": [round(top * 1.04, 3)] * len(g["x"]), "name": what + "s",
                          "marker": {"symbol": "x" if what == "OOM kill" else "triangle-down",
                                     "size": 10, "color": RED if what == "OOM kill" else ORANGE},
                          "hovertext": g["text"], "hoverinfo": "text+x"})
    return shapes, marks


def fleet_figure(namespaces: list[Totals], limit: int = 15) -> dict[str, Any]:
    """Current vs recommended requests for the namespaces with the most current CPU."""
    top = namespaces[:limit]
    names = [label(t.name) for t in top]

    def bars(attr: str, name: str, color: str, axis: tuple[str, str]) -> dict[str, Any]:
        return {"type": "bar", "x": names, "y": [round(getattr(t, attr), 3) for t in top],
                "name": name, "marker": {"color": color}, "xaxis": axis[0], "yaxis": axis[1],
                "hovertemplate": "%{x}: %{y}<extra>" + name + "</extra>"}

    return {
        "data": [
            bars("cpu_current", "current CPU request (cores)", GREY, ("x", "y")),
            bars("cpu_recommended", "recommended CPU request (cores)", GREEN, ("x", "y")),
            bars("mem_current", "current memory request (GiB)", "#9ca3af", ("x2", "y2")),
            bars("mem_recommended", "recommended memory request (GiB)", "#34d399",
                 ("x2", "y2")),
        ],
        "layout": {
            "title": {"text": "Requests by namespace: current vs recommended",
                      "font": {"size": 13}, "x": 0.01, "xanchor": "left"},
            "height": 320, "barmode": "group", "margin": {"l": 50, "r": 10, "t": 36, "b": 60},
            "xaxis": {"domain": [0, 0.48], "type": "category"},
            "xaxis2": {"domain": [0.52, 1], "type": "category"},
            "yaxis": {"title": {"text": "cores"}, "anchor": "x"},
            "yaxis2": {"title": {"text": "GiB"}, "anchor": "x2"},
            "legend": {"orientation": "h", "y": -0.25, "font": {"size": 11}},
            "paper_bgcolor": "#ffffff", "plot_bgcolor": "#fafafa",
        },
    }
