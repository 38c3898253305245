"""A capacity plan as one self-contained HTML page (plotly.js inline, so it opens offline).

Every name (node, namespace, workload, shape, message) is escaped: in the page text with
:func:`html.escape`, and in figure labels too, because plotly renders labels as a small HTML
subset.  Figure JSON is embedded with ``</`` written as ``<\\/`` so no value can end the script.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from quotatune.model.capacity import CapacityPlan
from quotatune.model.nametext import shown
from quotatune.model.units import format_cpu, format_memory_mib


def _e(v: object) -> str:
    # HTML escaping leaves bidirectional overrides acting: they are written as escapes.
    return html.escape(shown(str(v)), quote=True)


def plan_figures(plan: CapacityPlan) -> list[dict[str, Any]]:
    """Plotly figures as plain dicts: utilisation per node, nodes per shape."""
    figs: list[dict[str, Any]] = []
    cur, rec = plan.scenarios["current"], plan.scenarios["recommended"]
    if plan.nodes_known:
        names = [_e(n.node) for n in cur.nodes]
        data = []
        for sc, dash in ((cur, "current"), (rec, "recommended")):
            for res in ("cpu", "memory"):
                data.append({"type": "bar", "name": f"{res} {dash}", "x": names,
                             "y": [n.to_dict()[f"{res}_pct"] for n in sc.nodes]})
        figs.append({"data": data, "layout": {
            "title": {"text": "Requested share of allocatable per node (%)"}, "barmode": "group",
            "yaxis": {"title": {"text": "%"}}, "height": 420}})
    if cur.shapes:
        shapes = [_e(s.shape.name) for s in cur.shapes]
        data = [{"type": "bar", "name": sc.name, "x": shapes,
                 "y": [s.result.bins for s in sc.shapes]} for sc in (cur, rec)]
        figs.append({"data": data, "layout": {
            "title": {"text": "Nodes needed per shape"}, "barmode": "group", "height": 380}})
    return figs


def _n(nodes: int | None) -> str:
    return "does not fit" if nodes is None else str(nodes)


def _table(head: list[str], rows: Sequence[Sequence[object]]) -> str:
    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def plan_fragment(plan: CapacityPlan) -> str:
    """The plan's tables as an HTML fragment (no figures, no scripts)."""
    parts = [f"<p class='note'>{_e(n)}</p>" for n in plan.notes]
    for name, sc in plan.scenarios.items():
        d = sc.to_dict()
        parts.append(f"<p>{_e(name)}: {d['pods']} pod(s), "
                     f"{_e(format_cpu(d['cpu_requested_millicores']))} CPU and "
                     f"{_e(format_memory_mib(d['memory_requested_mib']))} requested, "
                     f"{d['pending_pods']} Pending</p>")
    pend = [[name, f"{p.namespace}/{p.workload}", p.node or "", p.pods, format_cpu(p.cpu),
             format_memory_mib(p.to_dict()["memory_request_mib"]), p.lacks, p.message]
            for name, sc in plan.scenarios.items() for p in sc.pending]
    if pend:
        parts.append("<h2>Pending pods</h2>" + _table(
            ["requests", "workload", "node", "pods", "cpu/pod", "mem/pod", "lacks", "message"],
            pend))
    checks = [[f"{c['namespace']}/{c['workload']}", "/".join(c["observed"]),
               "/".join(c["predicted"]) or "fits", "yes" if c["agrees"] else "no"]
              for c in plan.pending_check]
    if checks:
        parts.append("<h2>FailedScheduling seen in the cluster</h2>" + _table(
            ["workload", "cluster says short of", "plan predicts", "explained"], checks))
    counts = []
    for a, b in zip(plan.scenarios["current"].shapes, plan.scenarios["recommended"].shapes,
                    strict=True):
        da, db = a.to_dict(), b.to_dict()
        counts.append([a.shape.name, _n(da["nodes"]), _n(db["nodes"]), db["lower_bound"],
                       db["method"], "yes" if db["optimal"] else "no", db["note"]])
    if counts:
        parts.append("<h2>Nodes per shape</h2>" + _table(
            ["shape", "current", "recommended", "lower bound", "method", "optimal", "note"],
            counts))
    sv = plan.savings.to_dict()
    rows = [[f"{f['namespace']}/{f.get('workload', '')}", f["pods"], f["cores_freed"],
             f["gib_freed"], f.get("cost_per_month", "")]
            for f in [sv["total"], *sv["namespaces"], *sv["workloads"]]]
    parts.append("<h2>Requests freed</h2>" + _table(
        ["namespace/workload", "pods", "cores", "GiB", "per month"], rows))
    if plan.quotas:
        parts.append("<h2>ResourceQuota and LimitRange</h2><pre>"
                     f"{_e(plan.quotas_yaml)}</pre>")
    if plan.docker is not None:
        dd = plan.docker.to_dict()
        parts.append("<h2>Docker host</h2>" + _table(list(dd)[:7], [list(dd.values())[:7]]))
    return "\n".join(parts)


def render_plan_html(plan: CapacityPlan) -> str:
    from plotly.offline import get_plotlyjs

    figures = plan_figures(plan)
    figs = json.dumps(figures).replace("</", "<\\/")
    divs = "".join(f"<div id='fig{i}' class='fig'></div>" for i in range(len(figures)))
    js = get_plotlyjs()
    if "</script" in js.lower():
        raise RuntimeError("the bundled plotly.js contains '</script' and cannot be inlined")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>quotatune capacity plan</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px}}pre{{background:#f6f6f6;padding:1em}}
.note{{color:#92400e}}</style>
<script>{js}</script></head><body>
<h1>Capacity plan</h1>
{divs}
{plan_fragment(plan)}
<script>
const FIGS = {figs};
Promise.all(FIGS.map((f, i) => Plotly.newPlot('fig' + i, f.data, f.layout, {{responsive: true}})))
  .then(() => {{ window.quotatuneReady = true; }});
</script>
</body></html>
"""
