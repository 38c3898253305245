"""Failure forensics: what killed a container, what will, and what to change.

:func:`diagnose` runs an explicit list of rules over the usage, spec and event frames and
returns :class:`quotatune.model.Finding` values (docs/architecture.md, "Data contracts"),
worst first.  Each rule lives where its family does: terminations and scheduling here, logs
and JVM flags in :mod:`.jvm`, memory trends in :mod:`.trends`.  Pure: no I/O, the clock is ``now``.
Environment *values* never reach a finding: specs carry only names (``non_ascii_env``) and JVM
flags.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from quotatune.analysis.findings import env as findings_env
from quotatune.analysis.findings import evictions, trends
from quotatune.analysis.findings import jvm as findings_jvm
from quotatune.analysis.findings.aging import age
from quotatune.analysis.findings.common import (
    SEVERITY_ORDER,
    Context,
    DiagnosePolicy,
    exit_text,
    finding,
    key_of,
    latest,
    num,
)
from quotatune.analysis.oom import (
    LIMIT_AT_OOM,
    OOM_RULE,
    limit_at_kills,
    limits_at_ooms,
    oom_floor,
)
from quotatune.model import ContainerKey, Finding, units
from quotatune.model.units import mib_text as mi

__all__ = ["DiagnosePolicy", "RULES", "diagnose"]

Rule = Callable[[Context], list[Finding]]


def diagnose(usage: pd.DataFrame | None, specs: pd.DataFrame | None,
             events: pd.DataFrame | None, *, now: Any,
             policy: DiagnosePolicy | None = None, digest: Any = None) -> list[Finding]:
    """Every finding for the containers in the frames, worst first, then by name.  Each OOM
    kill's limit is read from ``usage`` unless ``events`` carry it (the store's path)."""
    if usage is not None and events is not None and LIMIT_AT_OOM not in events.columns:
        events = limits_at_ooms(usage, events)
    ctx = Context(usage, specs, events, now, policy or DiagnosePolicy(), digest)
    out: list[Finding] = []
    for rule in RULES:
        out.extend(rule(ctx))
    out = age(out, ctx.since, ctx.starts())
    return sorted(out, key=lambda f: (-SEVERITY_ORDER[f.severity], f.namespace, f.workload,
                                      f.container, f.kind))


# ------------------------------------------------------------------------------ OOM kills
def oom_killed(ctx: Context) -> list[Finding]:
    ev = ctx.events[ctx.events["oom"] & ctx.events["kind"].isin(
        ["termination", "oom-event", "event"])]
    out = []
    for _, group in ev.groupby(["namespace", "workload", "container"], sort=True):
        key = key_of(group.iloc[0])
        at = latest(group["timestamp"])
        kills = len(group.drop_duplicates(["pod", "timestamp", "kind"]))
        evidence = []
        terms = group[group["kind"] == "termination"]
        if not terms.empty:
            last = terms.sort_values("timestamp", na_position="first").iloc[-1]
            evidence += [exit_text(last["exit"]), "OOMKilled: true",
                         f"reason {last['reason']}" if last["reason"] else ""]
        for _, row in group[group["kind"] != "termination"].head(2).iterrows():
            evidence.append(f"event {row['reason']}: {row['message']}".rstrip(": "))
        if kills > 1:
            evidence.append(f"OOM-killed {kills} times, last at {at}")
        limit = ctx.limit_bytes(key)
        peak = ctx.peak_bytes(key)
        # From the limit the kills hit, as recommend: a limit raised since must not ratchet.
        killed_at = limit_at_kills(group)
        if not key.container:
            evidence.append(f"node-level event (on {key.workload}): no container named")
        elif killed_at is not None and killed_at != limit:
            evidence.append(f"memory limit {mi(killed_at)} at the kill"
                            + (f", {mi(limit)} now" if limit else ""))
        else:
            evidence.append(f"memory limit {mi(limit)}" if limit else "no memory limit")
        limit = killed_at if killed_at is not None else limit
        if peak:
            evidence.append(f"peak working set {mi(peak)}")
        need = ctx.jvm_need(key)
        if need is not None:
            evidence.append(need.reason())
        out.append(finding(key, "oom-killed", "critical", at, evidence,
                           _oom_advice(ctx, limit, peak, need, key)))
    return out


def _oom_advice(ctx: Context, limit: float | None, peak: float | None, need: Any,
                key: ContainerKey) -> str:
    p = ctx.policy
    if not key.container:
        return ("The kernel OOM killer killed a process on this node: match the process name "
                "in the event to its container, and give that container a memory limit and "
                "request that cover its peak.")
    targets: list[tuple[float, str]] = []
    if limit:
        # The default strategy's rule, so that advice and recommendation name one number.
        targets.append((float(oom_floor(np.asarray(limit))), f"the {mi(limit)} limit "
                        f"{OOM_RULE}"))
    if peak:
        targets.append((peak * p.peak_headroom, f"the peak working set × {p.peak_headroom:g}"))
    if need is not None and need.min_limit_bytes:
        targets.append((need.min_limit_bytes, "the JVM's heap + non-heap"))
    if not targets:
        return ("Killed by the kernel OOM killer with no memory limit: the host or node ran "
                "out of memory. Give the container a memory request and limit from its peak "
                "usage (quotatune recommend) so it is placed where that memory is free.")
    value, why = max(targets)
    text = f"Set the memory limit to at least {mi(value)} ({why})."
    if need is not None and need.startup_bytes and limit and need.startup_bytes > limit:
        text += (f" -XX:+AlwaysPreTouch makes the JVM touch its whole initial heap "
                 f"({mi(need.heap_initial_bytes)}) at start-up: lower -Xms or drop "
                 "-XX:+AlwaysPreTouch if the limit must stay.")
    elif need is not None and need.heap_fixed and need.fits is False and limit:
        text += f" Or lower -Xmx so that heap + non-heap fit {mi(limit)}."
    else:
        text += " If usage climbs until every kill, look for a leak before raising it again."
    return text


# ------------------------------------------------------------------ SIGKILL, not the OOM killer
_PROBE = re.compile(r"liveness probe|Liveness probe failed", re.I)
_PRESSURE = re.compile(r"low on resource|node .*pressure|Evicted|Preempt", re.I)


def exit_137(ctx: Context) -> list[Finding]:
    ev = ctx.events
    terms = ev[(ev["kind"] == "termination") & (ev["exit"] == 137) & ~ev["oom"]]
    out = []
    for _, group in terms.groupby(["namespace", "workload", "container"], sort=True):
        key = key_of(group.iloc[0])
        last = group.sort_values("timestamp", na_position="first").iloc[-1]
        if _oom_near(ctx, key, last["timestamp"]):
            continue  # the OOM finding covers it
        evidence = [exit_text(137), "OOMKilled: false",
                    f"reason {last['reason']}" if last["reason"] else ""]
        cause, advice = _kill_cause(ctx, key, last)
        evidence += cause
        limit = ctx.limit_bytes(key)
        peak = ctx.peak_bytes(key)
        if limit and peak:
            evidence.append(f"peak working set {mi(peak)} of its {mi(limit)} limit")
        out.append(finding(key, "exit-137", "warning", latest([last["timestamp"]]), evidence,
                           advice))
    return out


def _oom_near(ctx: Context, key: ContainerKey, t: Any) -> bool:
    ev = ctx.events_of(key)
    ev = ev[ev["oom"]]
    if ev.empty or pd.isna(t):
        return not ev.empty and pd.isna(t)
    return bool((abs(ev["timestamp"] - t) <= ctx.policy.correlate_window).any())


def _kill_cause(ctx: Context, key: ContainerKey, last: pd.Series) -> tuple[list[str], str]:
    """Events near the kill that say who sent the SIGKILL, and the advice that follows."""
    ev = ctx.events
    near = ev[(ev["namespace"] == key.namespace)
              & ((ev["workload"] == key.workload) | (ev["pod"] == last["pod"]))
              & (ev["kind"] != "termination")]
    if not pd.isna(last["timestamp"]):
        near = near[(near["timestamp"] - last["timestamp"]).abs() <= ctx.policy.correlate_window]
    probe = near[near["message"].str.contains(_PROBE) | (near["reason"] == "Unhealthy")]
    if not probe.empty:
        row = probe.iloc[-1]
        return ([f"event {row['reason']}: {row['message']}"],
                "The kubelet killed it after failed liveness probes, not the OOM killer. If the "
                "endpoint is slow under load or at start-up, raise the probe's timeoutSeconds / "
                "failureThreshold (or add a startupProbe); if the process is starved of CPU, "
                "raise its CPU request.")
    pressure = near[near["message"].str.contains(_PRESSURE) | near["reason"].isin(
        ["Evicted", "Preempted", "Preempting"])]
    if not pressure.empty:
        row = pressure.iloc[-1]
        return ([f"event {row['reason']}: {row['message']}"],
                "The node killed it under resource pressure (eviction or preemption). Set its "
                "memory request to what it really uses (quotatune recommend) so the scheduler "
                "reserves it, and check the node's other tenants.")
    node_oom = _node_oom_near(ctx, key, last)
    if node_oom is not None:
        return ([f"node event {node_oom['reason']} on {node_oom['workload']}: "
                 f"{node_oom['message']}"],
                "The container was not marked OOMKilled, but the node's kernel OOM killer killed "
                "a process at about that time: if that process is this container's, it ran out "
                "of memory (a child process killed, then the main one): raise its memory "
                "limit above its peak. Otherwise the SIGKILL came from a probe, `docker kill` "
                "or a stop after the grace period.")
    return ([], "A SIGKILL from outside the container, not the kernel OOM killer: a failed "
                "liveness probe, `docker kill`, or `docker stop` / pod termination after the "
                "grace period (handle SIGTERM faster or raise terminationGracePeriodSeconds / "
                "--stop-timeout), or the node under memory pressure. Check the events around "
                "that time; if it was stopped on purpose there is nothing to change.")


def _node_oom_near(ctx: Context, key: ContainerKey, last: pd.Series) -> pd.Series | None:
    """A node-level OOM event (no container named) on this container's node, near the kill."""
    node = str((ctx.spec(key) or {}).get("node") or "")
    if not node or pd.isna(last["timestamp"]):
        return None
    ev = ctx.events
    near = ev[ev["oom"] & (ev["container"] == "") & (ev["workload"] == node)
              & ((ev["timestamp"] - last["timestamp"]).abs() <= ctx.policy.correlate_window)]
    return None if near.empty else near.iloc[-1]


# ------------------------------------------------------------------------------ crash loops
_CRASH_WAITING = {"CrashLoopBackOff", "RunContainerError"}
_EXIT_MEANING = {
    0: "the main process exits successfully, and the restart policy starts it again: a "
       "long-running workload needs a process that stays in the foreground (or run it as a "
       "Job / with restart: no)",
    1: "the process fails at start: read its last log lines (kubectl logs --previous / docker "
       "logs)",
    126: "the command is not executable",
    127: "the command is not found in the image",
    137: "it is SIGKILLed on every start",
    139: "it crashes with a segmentation fault",
    143: "it is stopped with SIGTERM",
}


def crash_loop(ctx: Context) -> list[Finding]:
    keys: dict[ContainerKey, list[str]] = {}
    times: dict[ContainerKey, list[Any]] = {}
    ev = ctx.events
    looping = ev[((ev["kind"] == "waiting") & ev["reason"].isin(_CRASH_WAITING))
                 | ((ev["reason"] == "BackOff") & ev["message"].str.contains(
                     "restarting failed container", case=False))]
    for _, row in looping.iterrows():
        key = key_of(row)
        keys.setdefault(key, []).append(
            f"{row['kind']} {row['reason']}: {row['message']}".rstrip(": "))
        times.setdefault(key, []).append(row["timestamp"])
    for key in ctx.spec_keys():
        spec = ctx.spec(key) or {}
        status = f"{spec.get('waiting_reason') or ''} {spec.get('phase') or ''}".strip()
        if spec.get("waiting_reason") in _CRASH_WAITING or str(spec.get("phase")) == "restarting":
            if key not in keys:  # the waiting event already says it
                keys[key] = [f"status {status}"]
            times.setdefault(key, []).append(ctx.now)
    for key, evidence in _restart_bursts(ctx).items():
        keys.setdefault(key, []).extend(evidence)
    out = []
    for key, evidence in sorted(keys.items()):
        spec = ctx.spec(key) or {}
        restarts = num(spec.get("restarts"))
        if restarts is not None:
            evidence.append(f"restarts {int(restarts)}")
        last = ctx.last_termination(key)
        advice = "It keeps failing and being restarted."
        if last is not None:
            evidence.insert(0, exit_text(last["exit"]))
            if last["reason"]:
                evidence.insert(1, f"last termination reason {last['reason']}")
            code = last["exit"]
            if last["oom"]:
                advice += " It is OOM-killed: see the oom-killed finding for the memory to set."
            elif code is not None and np.isfinite(code) and int(code) in _EXIT_MEANING:
                advice += f" Exit code {int(code)}: {_EXIT_MEANING[int(code)]}."
        out.append(finding(key, "crash-loop", "critical", latest(times.get(key, [])), evidence,
                           advice + " Fix the cause; the back-off only spaces the retries."))
    return out


def _restart_bursts(ctx: Context) -> dict[ContainerKey, list[str]]:
    """Restart counters in usage that rose by crash_loop_restarts within the window."""
    u = ctx.usage
    if u.empty or "restarts" not in u.columns:
        return {}
    out: dict[ContainerKey, list[str]] = {}
    w = ctx.policy.crash_loop_window
    data = u[["namespace", "workload", "container", "pod", "timestamp", "restarts"]].dropna()
    for (ns, wl, c, pod), g in data.groupby(["namespace", "workload", "container", "pod"]):
        s = g.sort_values("timestamp").set_index("timestamp")["restarts"].astype(float)
        rise = s - s.rolling(w).min()
        if len(s) > 1 and rise.max() >= ctx.policy.crash_loop_restarts:
            out[ContainerKey(str(ns), str(wl), str(c))] = [
                f"restarted {int(rise.max())} times within {_td(w)} (pod {pod})"]
    return out


def _td(td: pd.Timedelta) -> str:
    hours = td.total_seconds() / 3600
    return f"{hours:g} h" if hours >= 1 else f"{td.total_seconds() / 60:g} min"


# ---------------------------------------------------------------- pending: no node has room
_INSUFFICIENT = re.compile(r"Insufficient ([\w/-]+(?:\.[\w/-]+)*)")
_HAS_INSUFFICIENT = re.compile(r"Insufficient [\w./-]+")


def pending_insufficient(ctx: Context) -> list[Finding]:
    ev = ctx.events
    sched = ev[ev["kind"].isin(["scheduling", "event"]) & ev["message"].str.contains(
        _HAS_INSUFFICIENT)]
    out = []
    for (ns, wl), group in sched.groupby(["namespace", "workload"], sort=True):
        last = group.sort_values("timestamp", na_position="first").iloc[-1]
        resources = sorted({m for msg in group["message"] for m in _INSUFFICIENT.findall(msg)})
        evidence = [f"{last['reason'] or 'Unschedulable'}: {last['message']}"]
        ns, wl = str(ns), str(wl)
        requests = _requests(ctx, ns, wl)
        if requests:
            evidence.append("requests " + ", ".join(requests))
        key = ContainerKey(ns, wl, str(last["container"]))
        out.append(finding(
            key, "pending-insufficient-resources", "critical", latest(group["timestamp"]),
            evidence,
            f"No node has enough free {' and '.join(resources)} for this pod's requests, so "
            "it stays Pending. Lower the requests to what it really uses (quotatune recommend "
            f"{ns}/{wl}), free capacity on the nodes, or add nodes (quotatune plan)."))
    return out


def _requests(ctx: Context, ns: str, wl: str) -> list[str]:
    s = ctx.specs
    rows = s[(s["namespace"] == ns) & (s["workload"] == wl)]
    out = []
    for _, row in rows.drop_duplicates("container").iterrows():
        cpu, mem = num(row.get("cpu_request_cores")), num(row.get("memory_request_bytes"))
        parts = []
        if cpu:
            parts.append(f"cpu {_cpu(cpu)}")
        if mem:
            parts.append(f"memory {mi(mem)}")
        if parts:
            out.append(f"{row['container']}: {' '.join(parts)}")
    return out


# ----------------------------------------------------------------------- CPU throttling
def cpu_throttled(ctx: Context) -> list[Finding]:
    u = ctx.usage
    if u.empty or "cpu_throttled_ratio" not in u.columns:
        return []
    out = []
    data = u.dropna(subset=["cpu_throttled_ratio"])
    for _, g in data.groupby(["namespace", "workload", "container"], sort=True):
        # Validation refuses a share outside 0..1; a store an older version wrote may hold
        # one, which must not make a throttled share above 100 %.
        ratio = g["cpu_throttled_ratio"].astype(float).clip(0, 1)
        if len(ratio) < ctx.policy.throttle_min_samples or ratio.mean() < ctx.policy.throttle_ratio:
            continue
        key = key_of(g.iloc[0])
        cpu = g["cpu_cores"].astype(float)
        p99 = float(cpu.quantile(0.99))
        evidence = [f"throttled in {ratio.mean():.0%} of CFS periods on average "
                    f"(p90 {ratio.quantile(0.9):.0%}) over {len(ratio)} samples",
                    f"CPU usage p95 {_cpu(float(cpu.quantile(0.95)))}"]
        limit = None
        if "cpu_limit_cores" in g.columns and g["cpu_limit_cores"].notna().any():
            limit = float(g["cpu_limit_cores"].dropna().iloc[-1])
            evidence.append(f"CPU limit {_cpu(limit)}")
        target = max(p99 * 1.5, (limit or 0) * 1.5)
        value = _cpu(target) if target > 0 else None
        advice = ("Its CPU limit cuts it off within each 100 ms period, which adds latency even "
                  "when average usage is low. ")
        advice += (f"Raise the CPU limit to at least {value}, or remove the limit and keep "
                   "a request that covers its usage." if value else
                   "Raise or remove the CPU limit and keep a request that covers its usage.")
        out.append(finding(key, "cpu-throttled", "warning", latest(g["timestamp"]), evidence,
                           advice))
    return out


def _cpu(cores: float) -> str:
    return units.format_cpu(units.cores_to_millicores_ceil(cores))


RULES: tuple[Rule, ...] = (
    oom_killed,
    exit_137,
    findings_jvm.startup_memory_failure,
    findings_jvm.heap_exceeds_limit,
    crash_loop,
    trends.memory_growth,
    cpu_throttled,
    pending_insufficient,
    findings_env.non_ascii_env,
    evictions.evicted,
)
