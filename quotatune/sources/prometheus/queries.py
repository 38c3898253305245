"""PromQL for the cAdvisor series and query splitting (shared by the sample and
the aggregate path, so both evaluate exactly the same expressions at the same instants)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import numpy as np

from quotatune.model.errors import InputError

MAX_POINTS = 11_000
BY = "namespace, pod, container"


def promql_duration(seconds: float) -> str:
    return f"{int(round(seconds * 1000))}ms" if seconds % 1 else f"{int(seconds)}s"


_MATCHER = re.compile(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*')


def check_selector(selector: str | None) -> str:
    """``job="kubelet",node=~"a.*"`` (braces optional) -> matchers to splice into a selector."""
    if not selector:
        return ""
    s = selector.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    parts = [p for p in _split_matchers(s) if p.strip()]
    if not parts or not all(_MATCHER.fullmatch(p) for p in parts):
        raise InputError(f"--selector: not PromQL label matchers: {selector[:80]!r} "
                         '(e.g. job="kubelet",node=~"pool-a.*")')
    return ",".join(p.strip() for p in parts)


def _split_matchers(s: str) -> Iterator[str]:
    buf, quoted, esc = "", False, False
    for ch in s:
        if ch == "," and not quoted:
            yield buf
            buf = ""
            continue
        buf += ch
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == '"':
            quoted = not quoted
    yield buf


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def regex_alt(values: list[str]) -> str:
    """A PromQL string literal matching exactly these values (``pod=~…``)."""
    return quote("|".join(re.escape(v) for v in sorted(set(values))))


def cadvisor_selector(namespace: str | None, extra: str = "") -> str:
    m = ['container!=""', 'container!="POD"']
    m.append(f"namespace={quote(namespace)}" if namespace is not None else 'namespace!=""')
    if extra:
        m.append(extra)
    return ",".join(m)


def cpu_expr(sel: str, rate_window_s: float) -> str:
    return (f"sum by ({BY}) (rate(container_cpu_usage_seconds_total{{{sel}}}"
            f"[{promql_duration(rate_window_s)}]))")


def memory_expr(sel: str) -> str:
    return f"max by ({BY}) (container_memory_working_set_bytes{{{sel}}})"


def throttle_expr(sel: str, rate_window_s: float) -> str:
    r = promql_duration(rate_window_s)
    # Containers without a CPU limit have no CFS periods: divide only where periods > 0.
    return (f"sum by ({BY}) (rate(container_cpu_cfs_throttled_periods_total{{{sel}}}[{r}]))"
            f" / (sum by ({BY}) (rate(container_cpu_cfs_periods_total{{{sel}}}[{r}])) > 0)")


def default_rate_window(step_s: float) -> float:
    # At least two scrapes of a 1-minute scrape interval must fall inside the window.
    return max(2 * step_s, 120.0)


def align_end(now: datetime, step_s: float) -> float:
    """The last step boundary at or before ``now`` (epoch seconds).  Aligning both the sample
    and the aggregate path to it makes them evaluate PromQL at the same instants."""
    t = now.timestamp()
    return float(np.floor(t / step_s) * step_s)


def time_chunks(start: float, end: float, step: float,
                max_points: int = MAX_POINTS) -> list[tuple[float, float]]:
    """Split [start, end] into back-to-back ranges of at most ``max_points`` steps each."""
    span = (max_points - 1) * step
    out, s = [], start
    while s <= end:
        e = min(end, s + span)
        out.append((s, e))
        s = e + step
    return out
