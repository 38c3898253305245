"""What every finding rule shares: the policy, frames normalised once, per-container lookups.

Frames arrive from several sources (Docker, Kubernetes, Prometheus, files, the store) with
missing columns, NaN and mixed dtypes; :class:`Context` normalises them once so that the rules
stay short.  Pure: the clock comes in as ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from quotatune import model
from quotatune.analysis.jvm import JvmNeed, jvm_memory_need_bytes
from quotatune.model import ContainerKey, Finding


@dataclass(frozen=True)
class DiagnosePolicy:
    """Thresholds of the findings; the defaults are what ``quotatune diagnose`` uses."""

    # Failures before this time are history (info); samples before it are not read.
    since: pd.Timestamp | None = None
    # After an OOM kill: the limit at least quotatune.analysis.oom.oom_floor of it, and at
    # least the peak working set × 1.2.
    peak_headroom: float = 1.2
    crash_loop_restarts: int = 3  # restarts within crash_loop_window that make a loop
    crash_loop_window: pd.Timedelta = pd.Timedelta(hours=1)
    throttle_ratio: float = 0.25  # mean share of CFS periods throttled
    throttle_min_samples: int = 5
    growth_horizon: pd.Timedelta = pd.Timedelta(days=7)  # warn when the limit is this close
    growth_critical: pd.Timedelta = pd.Timedelta(days=1)
    growth_min_span: pd.Timedelta = pd.Timedelta(hours=1)
    growth_min_points: int = 12
    correlate_window: pd.Timedelta = pd.Timedelta(minutes=10)  # events that explain a kill


SEVERITY_ORDER = {s: i for i, s in enumerate(model.SEVERITIES)}


def as_names(v: Any) -> tuple[str, ...]:
    """A list cell (list, tuple, array or one string) as a tuple of strings; NaN -> ()."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ()
    if isinstance(v, str):
        return tuple(v.split()) if v else ()
    try:
        return tuple(str(x) for x in v if isinstance(x, str) and x)
    except TypeError:
        return ()


def num(v: Any) -> float | None:
    """A finite float from a frame cell, else None (NaN, NA, None, text)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _str_col(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    s = df[col]
    if pd.api.types.is_string_dtype(s.dtype) and not s.isna().any() and (
            s.dtype != object or pd.api.types.infer_dtype(s, skipna=False) == "string"):
        return s  # already strings, as validated frames are: no copy of millions of rows
    return s.astype("string").fillna("").astype(str)


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in ("namespace", "workload", "pod", "container"):
        out[col] = _str_col(df, col)
    empty = out["workload"] == ""
    if empty.any():
        base = out["pod"].where(out["pod"] != "", out["container"])
        out.loc[empty, "workload"] = base[empty].map(model.workload_from_pod)
    return out


def _times(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True, errors="coerce")


def normalise_events(events: pd.DataFrame | None) -> pd.DataFrame:
    if events is None or events.empty:
        return _keyed(model.empty_events()).assign(exit=pd.Series(dtype="float64"),
                                                   oom=pd.Series(dtype=bool))
    ev = _keyed(events)
    ev["timestamp"] = _times(ev["timestamp"]) if "timestamp" in ev.columns else pd.NaT
    for col in ("kind", "reason", "message", "source"):
        ev[col] = _str_col(events, col)
    ev["exit"] = pd.to_numeric(ev["exit_code"], errors="coerce").astype("float64") if (
        "exit_code" in ev.columns) else np.nan
    oom = ev["oom_killed"] if "oom_killed" in ev.columns else pd.Series(False, index=ev.index)
    ev["oom"] = oom.map(lambda v: v is True or v == 1 or str(v).lower() == "true")
    ev["oom"] = ev["oom"] | (ev["reason"] == "OOMKilled")
    return ev.reset_index(drop=True)


class Context:
    """Normalised frames plus lookups by container key."""

    def __init__(self, usage: pd.DataFrame | None, specs: pd.DataFrame | None,
                 events: pd.DataFrame | None, now: Any, policy: DiagnosePolicy,
                 digest: Any = None) -> None:
        # digest (a findings.digest.UsageDigest): per-container stats and the peak envelope
        # accumulated day by day; ``usage`` then holds only the containers it names.
        self.digest = digest
        self.now = pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else (
            pd.Timestamp(now).tz_localize("UTC"))
        self.policy = policy
        self.usage = _keyed(usage) if usage is not None and not usage.empty else _keyed(
            model.empty_usage())
        if not self.usage.empty:
            self.usage["timestamp"] = _times(self.usage["timestamp"])
        self.specs = _keyed(specs) if specs is not None and not specs.empty else _keyed(
            model.empty_specs())
        self.events = normalise_events(events)
        self.since: pd.Timestamp | None = None
        if policy.since is not None:
            since = pd.Timestamp(policy.since)
            self.since = since.tz_localize("UTC") if since.tzinfo is None else since
            # Old failures stay (they become history, see .aging); old samples say nothing
            # about the memory trend or throttling of today.
            if not self.usage.empty:
                self.usage = self.usage[self.usage["timestamp"] >= self.since]
        self._spec_rows: dict[ContainerKey, dict[Any, Any]] = {}
        for row in self.specs.to_dict("records"):
            # The latest row per container wins (specs are appended in time order).
            self._spec_rows[ContainerKey(row["namespace"], row["workload"], row["container"])] = row

    # -- lookups -----------------------------------------------------------------------------
    def spec(self, key: ContainerKey) -> dict[Any, Any] | None:
        return self._spec_rows.get(key)

    def spec_keys(self) -> Iterable[ContainerKey]:
        return self._spec_rows.keys()

    def limit_bytes(self, key: ContainerKey) -> float | None:
        spec = self.spec(key)
        if spec is not None and (v := num(spec.get("memory_limit_bytes"))):
            return v
        limit = self._usage_stats.get(key, (None, None))[1]
        return limit if limit else None

    @cached_property
    def _usage_stats(self) -> dict[ContainerKey, tuple[float | None, float | None]]:
        """(peak working set, last memory limit) per container, in one pass over usage."""
        if self.digest is not None:
            return dict(self.digest.stats)
        u = self.usage
        if u.empty:
            return {}
        keys = ["namespace", "workload", "container"]
        peak = u.groupby(keys, sort=False)["memory_working_set_bytes"].max()
        limit = None
        if "memory_limit_bytes" in u.columns:
            # The limit at each container's newest sample that has one; picking rows by
            # idxmax avoids sorting the whole usage frame by time.
            known = u[u["memory_limit_bytes"].notna()]
            if not known.empty:
                newest = known.groupby(keys, sort=False)["timestamp"].idxmax()
                limit = pd.Series(known.loc[newest.to_numpy(), "memory_limit_bytes"].to_numpy(),
                                  index=newest.index)
        out: dict[ContainerKey, tuple[float | None, float | None]] = {}
        for k, p in peak.items():
            lim = num(limit.get(k)) if limit is not None else None
            out[ContainerKey(*(str(x) for x in k))] = (num(p), lim)  # type: ignore[attr-defined]
        return out

    def starts(self) -> dict[ContainerKey, pd.Timestamp]:
        """The newest known start of each container's current run ("start" events)."""
        ev = self.events[(self.events["kind"] == "start") & self.events["timestamp"].notna()]
        if ev.empty:
            return {}
        newest = ev.groupby(["namespace", "workload", "container"], sort=False)["timestamp"].max()
        return {ContainerKey(*(str(x) for x in k)): t  # type: ignore[attr-defined]
                for k, t in newest.items()}

    def jvm_need(self, key: ContainerKey) -> JvmNeed | None:
        spec = self.spec(key)
        if spec is None:
            return None
        limit = self.limit_bytes(key)
        return jvm_memory_need_bytes(as_names(spec.get("jvm_options")),
                                     int(limit) if limit else None)

    def peak_bytes(self, key: ContainerKey) -> float | None:
        return self._usage_stats.get(key, (None, None))[0]

    @staticmethod
    def mask(df: pd.DataFrame, key: ContainerKey) -> pd.Series:
        return ((df["namespace"] == key.namespace) & (df["workload"] == key.workload)
                & (df["container"] == key.container))

    def events_of(self, key: ContainerKey) -> pd.DataFrame:
        return self.events[self.mask(self.events, key)]

    def last_termination(self, key: ContainerKey) -> dict[Any, Any] | None:
        ev = self.events_of(key)
        ev = ev[ev["kind"] == "termination"]
        if ev.empty:
            return None
        return dict(ev.sort_values("timestamp", na_position="first").iloc[-1].to_dict())


def key_of(row: Any) -> ContainerKey:
    """The key of a frame row (a Series or a record dict)."""
    return ContainerKey(str(row["namespace"]), str(row["workload"]), str(row["container"]))


def latest(times: Iterable[Any]) -> str | None:
    valid = [pd.Timestamp(t) for t in times if t is not None and not pd.isna(t)]
    return model.format_time(max(valid)) if valid else None


def finding(key: ContainerKey, kind: str, severity: str, at: str | None,
            evidence: Iterable[str], advice: str) -> Finding:
    seen: list[str] = []
    for e in evidence:
        if e and e not in seen:
            seen.append(e)
    return Finding(namespace=key.namespace, workload=key.workload, container=key.container,
                   kind=kind, severity=severity, at=at, evidence=tuple(seen), advice=advice)


def exit_text(code: float | None) -> str:
    """'exit code 137 (SIGKILL)' with the signal named for codes above 128."""
    if code is None or not np.isfinite(code):
        return ""
    c = int(code)
    names = {129: "SIGHUP", 130: "SIGINT", 134: "SIGABRT", 137: "SIGKILL", 139: "SIGSEGV",
             143: "SIGTERM"}
    text = f"exit code {c}"
    if c in names:
        text += f" ({names[c]})"
    return text
