"""The HTML report as one self-contained string (pure: the CLI writes it).

Escaping, in one place:
- template text goes through Jinja2 with autoescape on, and every plain string a template
  prints through :func:`quotatune.model.nametext.shown` first (HTML escaping leaves
  bidirectional overrides and control characters acting; the rows built in ``rows`` do the
  same);
- figure titles, tick and hover labels are escaped in ``charts.label`` (plotly renders them as
  an HTML subset);
- JSON inside ``<script>`` goes through :func:`script_json`, which escapes ``<``, ``>`` and
  ``&`` (so neither ``</script>`` nor ``<!--`` can end or change the script block) and the two
  line separators JavaScript treats as newlines.
plotly.js is embedded once, inline, so the file opens offline.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, cast

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from quotatune.model import KEY_COLUMNS, SEVERITIES, ContainerKey, format_time
from quotatune.model.nametext import shown
from quotatune.render.html import charts, rows
from quotatune.render.html.view import ReportInputs, ReportView, build_view, is_missing

META_ID = "quotatune-meta"
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                 "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(obj: Any) -> Markup:
    """JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str)
    for ch, esc in _JSON_ESCAPES.items():
        text = text.replace(ch, esc)
    return Markup(text)


@lru_cache(maxsize=1)
def plotly_js() -> Markup:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    if "</script" in js.lower():  # would end the inline script block early
        raise RuntimeError("the bundled plotly.js contains '</script' and cannot be inlined")
    return Markup(js)


def _shown(value: Any) -> Any:
    """What a template prints: outside text with its acting characters as escapes (tabs and
    newlines are only white space in HTML); markup built here (plotly.js, the rows) as is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return shown(value, keep="\t\n")
    return value


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("quotatune.render.html", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, finalize=_shown,
    )
    env.filters.update(cores=rows.fmt_cores, gib=rows.fmt_gib, m=rows.fmt_m, mib=rows.fmt_mib,
                       pct=rows.fmt_pct, time=rows.fmt_time, hours=rows.fmt_hours,
                       num=rows.fmt_num, signed=rows.fmt_signed)
    env.globals.update(SEVERITIES=SEVERITIES, script_json=script_json, num_cell=rows.num_cell,
                       sev_badge=rows.sev_badge, status_badge=rows.status_badge,
                       container_row=rows.container_row, coverage_row=rows.coverage_row)
    return env


def report_meta(view: ReportView) -> dict[str, Any]:
    """What the reports index lists about this report (read back from the file)."""
    s = view.summary
    inp = view.inputs
    return {
        "generated_at": format_time(pd.Timestamp(inp.generated_at)), "target": inp.target,
        "strategy": inp.strategy, "containers": s.containers,
        "cpu_current": round(s.cpu_current, 3), "cpu_recommended": round(s.cpu_recommended, 3),
        "cpu_net_freed": round(s.cpu_net, 3), "mem_net_freed_gib": round(s.mem_net, 3),
        "findings": s.severity_counts if inp.findings is not None else None,
        "window": [format_time(view.window_start), format_time(view.window_end)],
    }


def chart_specs(view: ReportView) -> list[dict[str, Any]]:
    """One entry per charted container: its anchor, its two figures."""
    inp = view.inputs
    charted = view.charted
    if not charted or view.index is None:
        return []
    # numpy columns once: taking rows from Arrow-backed frames costs ~0.1 s per container
    cols = {c: inp.usage[c].to_numpy(dtype="datetime64[ns]" if c == "timestamp" else "float64")
            for c in charts.CHART_COLUMNS if c in inp.usage.columns}
    ev = inp.events
    ev_rows = ev.groupby(KEY_COLUMNS, sort=False, observed=True).indices if not ev.empty else {}
    out = []
    for c in charted:
        rows = np.sort(view.index.rows(c.key))
        usage = pd.DataFrame({name: arr[rows] for name, arr in cols.items()})
        idx = ev_rows.get(tuple(c.key))
        events = ev.iloc[idx] if idx is not None else ev.iloc[0:0]
        figs = charts.container_figures(c, usage, events)
        out.append({"anchor": c.anchor, "cpu": figs["cpu"], "mem": figs["mem"]})
    return out


def render_report(inputs: ReportInputs) -> str:
    view = build_view(inputs)
    specs = chart_specs(view)
    figures: dict[str, Any] = {}
    if view.namespaces:
        figures["fleet"] = charts.fleet_figure(view.namespaces)
    for s in specs:
        figures[f"{s['anchor']}-cpu"] = s["cpu"]
        figures[f"{s['anchor']}-mem"] = s["mem"]
    capacity_html = Markup("")
    if inputs.capacity is not None:
        from quotatune.render.plan.html import plan_figures, plan_fragment

        # plan_fragment escapes every name itself (see plan_html); it has no scripts.
        capacity_html = Markup(plan_fragment(inputs.capacity))
        for i, fig in enumerate(plan_figures(inputs.capacity)):
            figures[f"capacity-{i}"] = fig
    events_by_anchor = _event_lists(view)
    return environment().get_template("report.html.j2").render(
        v=view, inp=inputs, s=view.summary, figures=figures, meta=report_meta(view),
        meta_id=META_ID, plotly_js=plotly_js(), events_by_anchor=events_by_anchor,
        max_points=charts.MAX_POINTS, capacity_html=capacity_html,
        charted_anchor={tuple(c.key): c.anchor for c in view.charted},
        capacity_charts=[k for k in figures if k.startswith("capacity-")],
    )


def _event_lists(view: ReportView, limit: int = 8) -> dict[str, list[dict[str, str]]]:
    """The last few events of each charted container, printed under its charts."""
    ev = view.inputs.events
    if ev.empty:
        return {}
    out: dict[str, list[dict[str, str]]] = {}
    by_key = {c.key: c.anchor for c in view.containers if c.charted}
    for row in ev.sort_values("timestamp", ascending=False).itertuples(index=False):
        anchor = by_key.get(ContainerKey(str(row.namespace), str(row.workload), str(row.container)))
        if anchor is None or len(out.setdefault(anchor, [])) >= limit:
            continue
        out[anchor].append({
            "at": format_time(cast(Any, row.timestamp)) or "—", "kind": str(row.kind),
            "reason": "" if is_missing(row.reason) else str(row.reason),
            "exit_code": "" if is_missing(row.exit_code) else str(row.exit_code),
            "message": "" if is_missing(row.message) else str(row.message)[:500],
        })
    return out
