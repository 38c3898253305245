"""JVM findings: memory failures in logs and hs_err files, and heaps that cannot fit.

``jvm-startup-memory-failure`` covers the JVM's own messages and the equivalent last words of
other runtimes (Go, Node.js, Python, C++, Rust, ENOMEM) found by
:mod:`quotatune.analysis.findings.logs`; the evidence names the runtime.
``jvm-heap-exceeds-limit`` reads the flags before anything crashes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quotatune.analysis.findings.common import (
    Context,
    as_names,
    exit_text,
    finding,
    key_of,
    latest,
)
from quotatune.analysis.findings.logs import PATTERNS, LogMatch, match_line
from quotatune.analysis.jvm import GC_OVERHEAD_FRACTION, MIB, JvmNeed, jvm_memory_need_bytes
from quotatune.model import ContainerKey, Finding, format_time
from quotatune.model.frames import HS_ERR_INFO
from quotatune.model.units import mib_text as mi

# Events that carry log text: log lines, hs_err headlines, and termination messages (the
# kubelet's FallbackToLogsOnError puts the log tail there).
_TEXT_KINDS = ("log", "termination", "event")
_RANK = {p.name: i for i, p in enumerate(PATTERNS)}
MAX_LINES_SHOWN = 4
MIN_USEFUL_HEAP = 32 * MIB


def startup_memory_failure(ctx: Context) -> list[Finding]:
    ev = ctx.events[ctx.events["kind"].isin(_TEXT_KINDS) & (ctx.events["message"] != "")]
    out = []
    for _, group in ev.groupby(["namespace", "workload", "container"], sort=True):
        matches: list[tuple[LogMatch, Any]] = []
        for msg, ts in zip(group["message"], group["timestamp"], strict=True):
            for line in str(msg).splitlines():
                m = match_line(line)
                if m is not None:
                    matches.append((m, ts))
        if not matches:
            continue
        key = key_of(group.iloc[0])
        out.append(_startup_finding(ctx, key, group, matches))
    return out


def _startup_finding(ctx: Context, key: ContainerKey, group: pd.DataFrame,
                     matches: list[tuple[LogMatch, Any]]) -> Finding:
    # Most specific lines first, each distinct line once.
    ordered = sorted(matches, key=lambda mt: _RANK[mt[0].pattern])
    shown: list[LogMatch] = []
    for m, _ in ordered:
        if m.line not in {s.line for s in shown}:
            shown.append(m)
    top = shown[0]
    evidence: list[str] = []
    last = ctx.last_termination(key)
    crashed = last is not None and np.isfinite(last["exit"]) and last["exit"] != 0
    if last is not None and np.isfinite(last["exit"]):
        evidence.append(exit_text(last["exit"]))
    hs_err = group["source"].str.startswith("hs_err").any()
    if top.runtime != "JVM":
        evidence.append(f"runtime: {top.runtime}")
    evidence += [f"log: {m.line}" for m in shown[:MAX_LINES_SHOWN]]
    requested = next((m.requested_bytes for m in shown if m.requested_bytes), None)
    if requested:
        evidence.append(f"failed allocation: {mi(requested)} ({requested} bytes)")
    evidence += [str(msg) for msg in group.loc[group["reason"] == HS_ERR_INFO, "message"]]
    need = ctx.jvm_need(key)
    if need is not None and need.flags:
        evidence.append("flags: " + " ".join(need.flags))
    limit = ctx.limit_bytes(key)
    if limit:
        evidence.append(f"memory limit {mi(limit)}")
    severity = "critical" if crashed or hs_err or last is None else "warning"
    at = latest([t for _, t in matches])
    return finding(key, "jvm-startup-memory-failure", severity, at, evidence,
                   _advice(shown, need, limit, requested))


def _advice(shown: list[LogMatch], need: JvmNeed | None, limit: float | None,
            requested: int | None) -> str:
    names = {m.pattern for m in shown}
    top = shown[0]
    detail = next((m.detail for m in shown if m.pattern == "jvm-out-of-memory-error"
                   and m.detail), "") or ""
    floor = need.min_limit_bytes if need is not None else None
    raise_to = f" or raise the memory limit to at least {mi(floor)}" if floor else ""
    if top.runtime != "JVM":
        return _other_runtime_advice(top, limit)
    if names & {"jvm-native-allocation", "jvm-commit-memory", "jvm-reserve-heap",
                "jvm-insufficient-memory"} and not names & {"jvm-gc-thread"}:
        flag = _heap_flag(need)
        if flag and need is not None and limit:
            return (f"The JVM could not get the memory its heap flags ask for ({flag} in a "
                    f"{mi(limit)} limit): {heap_fix(need, limit)}.")
        if flag:
            return (f"The JVM could not get the memory its heap flags ask for ({flag}): lower "
                    f"{_flag_name(flag)} below the memory the container can have.")
        asked = f" ({mi(requested)} requested)" if requested else ""
        return ("The JVM could not get native memory at start-up" + asked + ": set -Xmx/-Xms "
                "(or -XX:MaxRAMPercentage) below the container's memory, or raise the memory "
                "limit; on a host without a limit, the machine itself is out of memory.")
    if names & {"jvm-gc-thread", "jvm-native-thread"} or "native thread" in detail:
        eperm = any(m.detail == "EPERM" for m in shown)
        text = ("The JVM could not start a thread: raise the memory limit and the pids limit, "
                "or lower -Xss and the GC thread counts (-XX:ParallelGCThreads, "
                "-XX:ConcGCThreads).")
        if eperm:
            text += (" EPERM means the runtime's seccomp profile refused the thread (an old "
                     "Docker with a newer JDK or glibc): upgrade Docker/libseccomp.")
        return text
    if names & {"jvm-heap-flags"}:
        return ("The JVM refused its heap flags: -Xms must not exceed -Xmx, and sizes are "
                "whole numbers with k/m/g (e.g. -Xmx512m).")
    pools = {"Metaspace": "-XX:MaxMetaspaceSize", "Compressed class space":
             "-XX:CompressedClassSpaceSize", "Direct buffer memory": "-XX:MaxDirectMemorySize"}
    for pool, flag in pools.items():
        if detail.startswith(pool):
            return (f"{pool} is full: raise {flag} (or find what loads classes / allocates "
                    f"buffers without end), and keep the memory limit above heap + non-heap"
                    f"{raise_to}.")
    return (f"The Java heap is full ({detail or 'OutOfMemoryError'}): raise -Xmx (or "
            f"-XX:MaxRAMPercentage) and the memory limit with it{raise_to}, or take a heap "
            "dump (-XX:+HeapDumpOnOutOfMemoryError) to find what holds the memory.")


def heap_fix(need: JvmNeed, limit: float) -> str:
    """'lower -Xmx to -Xmx400m' (or -Xms / MaxRAMPercentage): the heap flag in force, set so
    that heap + non-heap fit ``limit``; when nothing fits, the limit a small heap needs."""
    fixed = need.non_heap_bytes - dict(need.parts).get("GC structures", 0)
    room = limit - fixed
    flag = _heap_flag(need) or "-Xmx"
    if room <= MIN_USEFUL_HEAP:
        small = mi((fixed + MIN_USEFUL_HEAP) * (1 + GC_OVERHEAD_FRACTION))
        return (f"lower {_flag_name(flag)} and raise the memory limit: about {mi(fixed)} of "
                f"non-heap leaves no room for a heap in {mi(limit)} (at least {small} for a "
                f"{mi(MIN_USEFUL_HEAP)} heap)")
    heap_mib = int(room / (1 + GC_OVERHEAD_FRACTION) / MIB)
    if need.heap_fixed:
        return f"lower -Xmx to -Xmx{heap_mib}m"
    if flag.startswith(("-Xms", "-XX:InitialHeapSize")):
        return f"lower -Xms to -Xms{heap_mib}m or less"
    return f"lower -XX:MaxRAMPercentage to {int(100 * heap_mib * MIB / limit)}"


def _flag_name(flag: str) -> str:
    return flag.split("=")[0] if flag.startswith("-XX:") else flag[:4]


def _heap_flag(need: JvmNeed | None) -> str | None:
    if need is None:
        return None
    for prefix in ("-Xms", "-XX:InitialHeapSize", "-Xmx", "-XX:MaxHeapSize",
                   "-XX:MaxRAMPercentage", "-XX:InitialRAMPercentage"):
        for f in need.flags:
            if f.startswith(prefix):
                return f
    return None


def _other_runtime_advice(top: LogMatch, limit: float | None) -> str:
    lim = f" (now {mi(limit)})" if limit else ""
    if top.runtime == "Node.js":
        cap = f" e.g. --max-old-space-size={int(limit * 0.75 / MIB)}" if limit else ""
        return (f"Node.js hit its V8 heap limit: set --max-old-space-size to about 75 % of the "
                f"container's memory limit{cap} (in NODE_OPTIONS), and raise the limit{lim} if "
                "the heap needs more.")
    if top.runtime == "Go":
        cap = f" (GOMEMLIMIT={int(limit * 0.9 / MIB)}MiB)" if limit else ""
        return (f"The Go runtime could not get memory: raise the memory limit{lim} above its "
                f"peak, and set GOMEMLIMIT to about 90 % of the limit{cap} so the GC works "
                "harder before the limit.")
    return (f"The process ({top.runtime}) could not allocate memory: {top.what}. Raise the "
            f"memory limit{lim} above its peak usage (quotatune recommend), or bound the "
            "allocation that failed.")


# ----------------------------------------------------------------------- heaps that cannot fit
def heap_exceeds_limit(ctx: Context) -> list[Finding]:
    out = []
    for key in ctx.spec_keys():
        spec = ctx.spec(key) or {}
        opts = as_names(spec.get("jvm_options"))
        limit = ctx.limit_bytes(key)
        if not opts or not limit:
            continue
        need = jvm_memory_need_bytes(opts, int(limit))
        if need is None or need.fits is not False:
            continue
        out.append(_heap_finding(ctx, key, need, int(limit)))
    return out


def _heap_finding(ctx: Context, key: ContainerKey, need: JvmNeed, limit: int) -> Finding:
    heap = need.heap_max_bytes or 0
    startup = need.startup_bytes or 0
    evidence = [f"flag {f}" for f in need.flags] + [f"memory limit {mi(limit)}", need.reason()]
    if startup > limit:
        severity = "critical"
        evidence.append(f"AlwaysPreTouch: {mi(startup)} resident at start-up > limit {mi(limit)}")
        what = ("With -XX:+AlwaysPreTouch the JVM touches its whole initial heap at start-up: "
                "it is OOM-killed before it runs.")
    elif heap >= limit:
        severity = "critical"
        what = (f"The heap alone ({mi(heap)}, {need.heap_source}) is as large as the memory "
                "limit: the JVM is OOM-killed once the heap fills.")
    else:
        severity = "warning"
        what = (f"Heap {mi(heap)} + non-heap about {mi(need.non_heap_bytes)} is more than the "
                f"{mi(limit)} limit: it is OOM-killed under load, before the heap is full.")
    fixes = [heap_fix(need, limit)]
    # Raising the limit is the other way out, unless the heap flag itself is absurd (an -Xms
    # alone as large as the limit, e.g. -Xms64g in 128Mi).
    sensible = need.heap_fixed or heap < limit or need.always_pre_touch
    if need.min_limit_bytes and sensible:
        raise_limit = f"set the memory limit to at least {mi(need.min_limit_bytes)}"
        fixes.insert(0 if need.heap_fixed and heap < limit and startup <= limit else 1,
                     raise_limit)
    if startup > limit:
        fixes.append("drop -XX:+AlwaysPreTouch")
    joined = "; or ".join(fixes)
    advice = what + (f" {joined[:1].upper()}{joined[1:]}." if fixes else "")
    return finding(key, "jvm-heap-exceeds-limit", severity, format_time(ctx.now), evidence,
                   advice)
