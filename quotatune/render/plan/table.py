"""The terminal view of a capacity plan: nodes, Pending pods, node counts, savings, quotas."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.markup import escape as markup_escape
from rich.table import Table

from quotatune.model.capacity import CapacityPlan
from quotatune.model.nametext import shown
from quotatune.model.units import format_cpu, format_memory_mib

TOP_WORKLOADS = 15


def _t(text: str) -> str:
    """Outside text (names, scheduler messages) as printed text: never rich markup, and an
    escape sequence or bidirectional override shown as its escape, not acting."""
    return markup_escape(shown(text))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}%"


def _nodes(plan: CapacityPlan) -> Table:
    cur, rec = plan.scenarios["current"], plan.scenarios["recommended"]
    t = Table(title="Requested / allocatable per node (current → recommended)",
              header_style="bold", title_justify="left")
    for col in ("node", "cpu alloc", "cpu req", "mem alloc", "mem req", "pods"):
        t.add_column(col, justify="left" if col == "node" else "right")
    for a, b in zip(cur.nodes, rec.nodes, strict=True):
        da, db = a.to_dict(), b.to_dict()
        t.add_row(
            _t(a.node), format_cpu(da["cpu_allocatable_millicores"]),
            f"{format_cpu(da['cpu_requested_millicores'])} ({_pct(da['cpu_pct'])}) → "
            f"{format_cpu(db['cpu_requested_millicores'])} ({_pct(db['cpu_pct'])})",
            format_memory_mib(da["memory_allocatable_mib"]),
            f"{format_memory_mib(da['memory_requested_mib'])} ({_pct(da['memory_pct'])}) → "
            f"{format_memory_mib(db['memory_requested_mib'])} ({_pct(db['memory_pct'])})",
            f"{da['pods']} → {db['pods']} / {da['pods_allocatable']}",
        )
    return t


def _pending(plan: CapacityPlan) -> Table:
    t = Table(title="Pods that would stay Pending", header_style="bold", title_justify="left")
    for col in ("requests", "workload", "pods", "cpu/pod", "mem/pod", "lacks", "scheduler says"):
        t.add_column(col, overflow="fold")
    for name, sc in plan.scenarios.items():
        for p in sc.pending:
            d = p.to_dict()
            where = f"{p.namespace}/{p.workload}" + (f" on {p.node}" if p.node else "")
            t.add_row(name, _t(where), str(p.pods), format_cpu(p.cpu),
                      format_memory_mib(d["memory_request_mib"]), p.lacks, _t(p.message))
    return t


def _counts(plan: CapacityPlan) -> Table:
    t = Table(title="Nodes needed per shape", header_style="bold", title_justify="left")
    for col in ("shape", "current", "recommended"):
        t.add_column(col, overflow="fold")

    def cell(s: Any) -> str:
        d = s.to_dict()
        if d["nodes"] is None:
            return f"does not fit: {_t(d['note'])}" + (
                f" ({_t(', '.join(d['unplaceable'][:3]))})" if d["unplaceable"] else "")
        proof = "optimal" if d["optimal"] else f"gap ≤ {d['gap']}"
        return (f"{d['nodes']} ({d['method']}, lower bound {d['lower_bound']}, {proof})")

    for a, b in zip(plan.scenarios["current"].shapes, plan.scenarios["recommended"].shapes,
                    strict=True):
        t.add_row(_t(a.shape.name), cell(a), cell(b))
    return t


def _savings(plan: CapacityPlan) -> Table:
    d = plan.savings.to_dict()
    priced = d["prices"] is not None
    t = Table(title="Requests freed (negative = more requested)", header_style="bold",
              title_justify="left")
    cols = ["namespace / workload", "pods", "cores", "GiB"] + (["per month"] if priced else [])
    for col in cols:
        t.add_column(col, justify="left" if col.startswith("namespace") else "right")

    def row(name: str, f: dict[str, Any]) -> list[str]:
        cells = [_t(name), str(f["pods"]), f"{f['cores_freed']:.3f}", f"{f['gib_freed']:.3f}"]
        return cells + ([f"{f['cost_per_month']:.2f}"] if priced else [])

    t.add_row(*row("(all)", d["total"]))
    for f in d["namespaces"]:
        t.add_row(*row(f["namespace"] + "/", f))
    for f in d["workloads"][:TOP_WORKLOADS]:
        t.add_row(*row(f"{f['namespace']}/{f['workload']}", f))
    return t


def _quotas(plan: CapacityPlan) -> Table:
    t = Table(title="ResourceQuota per namespace (full YAML: -o yaml)", header_style="bold",
              title_justify="left")
    keys = ("pods", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
    t.add_column("namespace")
    for k in keys:
        t.add_column(k, justify="right")
    for q in plan.quotas:
        hard = q.hard()
        t.add_row(_t(q.namespace), *(hard.get(k, "-") for k in keys))
    return t


def render_plan_table(plan: CapacityPlan, *, width: int | None = None) -> str:
    buf = io.StringIO()
    con = Console(file=buf, width=width or 160, force_terminal=False, no_color=True)
    for note in plan.notes:
        con.print(f"note: {_t(note)}")
    for name, sc in plan.scenarios.items():
        d = sc.to_dict()
        con.print(f"{name}: {d['pods']} pod(s), {format_cpu(d['cpu_requested_millicores'])} CPU "
                  f"and {format_memory_mib(d['memory_requested_mib'])} requested, "
                  f"{d['pending_pods']} Pending")
    if plan.nodes_known:
        con.print(_nodes(plan))
        if any(sc.pending for sc in plan.scenarios.values()):
            con.print(_pending(plan))
    for c in plan.pending_check:
        verdict = "explained" if c["agrees"] else "NOT explained"
        con.print(_t(f"FailedScheduling {c['namespace']}/{c['workload']}: cluster says "
                         f"{'/'.join(c['observed'])}, plan predicts "
                         f"{'/'.join(c['predicted']) or 'fits'} ({verdict})"))
    if plan.scenarios["current"].shapes:
        con.print(_counts(plan))
    con.print(_savings(plan))
    if plan.quotas:
        con.print(_quotas(plan))
    if plan.docker is not None:
        d = plan.docker.to_dict()
        con.print(
            f"Docker host: limits {format_cpu(d['cpu_limits_millicores'])} CPU of "
            f"{format_cpu(d['host_cpu_millicores'])} ({'fits' if d['fits_cpu'] else 'OVER'}), "
            f"{format_memory_mib(d['memory_limits_mib'])} of "
            f"{format_memory_mib(d['host_memory_mib'])} memory "
            f"({'fits' if d['fits_memory'] else 'OVER'}); "
            f"{len(d['no_memory_limit'])} container(s) without a memory limit"
        )
    return buf.getvalue()
