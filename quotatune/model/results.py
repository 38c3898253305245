"""Keys, targets and the result types: frozen dataclasses that render to exactly the JSON of
the contract (docs/architecture.md, "Data contracts")."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from quotatune.model.errors import InputError
from quotatune.model.frames import KEY_COLUMNS

# ---------------------------------------------------------------------------------------------
# Keys and targets


class ContainerKey(NamedTuple):
    namespace: str
    workload: str
    container: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.workload}/{self.container}"


@dataclass(frozen=True)
class Target:
    """``ns/``, ``ns/workload`` or ``ns/workload/container``; ``None`` parts match anything."""

    namespace: str | None = None
    workload: str | None = None
    container: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> Target:
        if text is None or text == "":
            return cls()
        parts = text.split("/")
        if len(parts) == 2 and parts[1] == "":
            parts = parts[:1]
        if len(parts) > 3 or any(p == "" for p in parts):
            raise InputError(
                f"bad target {text!r}: use ns/, ns/workload or ns/workload/container"
            )
        if len(parts) == 1 and not text.endswith("/"):
            raise InputError(
                f"bad target {text!r}: use ns/ for a namespace, ns/workload or "
                "ns/workload/container"
            )
        return cls(*parts)  # type: ignore[arg-type]

    @property
    def is_all(self) -> bool:
        return self.namespace is None

    def __str__(self) -> str:
        if self.namespace is None:
            return "(all)"
        parts = [p for p in (self.namespace, self.workload, self.container) if p is not None]
        return "/".join(parts) + ("/" if len(parts) == 1 else "")

    def mask(self, df: pd.DataFrame) -> pd.Series:
        m = pd.Series(True, index=df.index)
        for col, want in (
            ("namespace", self.namespace),
            ("workload", self.workload),
            ("container", self.container),
        ):
            if want is not None:
                m &= df[col] == want
        return m

    def select(self, df: pd.DataFrame, known: Iterable[str] | None = None) -> pd.DataFrame:
        """Rows of ``df`` in the target; an unknown target lists the nearest matches."""
        if self.is_all:
            return df
        sel = df[self.mask(df)]
        if sel.empty:
            names = sorted(
                set(known)
                if known is not None
                else {f"{n}/{w}/{c}" for n, w, c in df[KEY_COLUMNS].drop_duplicates().itertuples(
                    index=False
                )}
            )
            candidates = sorted({_prefix(n, self) for n in names})
            near = difflib.get_close_matches(str(self), candidates, n=3, cutoff=0.3)
            hint = f"; nearest: {', '.join(near)}" if near else ""
            raise InputError(f"no data for target {self}{hint}")
        return sel


def _prefix(name: str, target: Target) -> str:
    depth = sum(p is not None for p in (target.namespace, target.workload, target.container))
    parts = name.split("/")[:depth]
    return "/".join(parts) + ("/" if depth == 1 else "")


# ---------------------------------------------------------------------------------------------
# Results


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return _clean(float(v))
    return v


@dataclass(frozen=True)
class Current:
    cpu_request_millicores: int | None = None
    memory_request_mib: int | None = None
    memory_limit_mib: int | None = None
    cpu_limit_millicores: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        # Exactly the contract's three keys, so every recommendation has the same shape; the
        # CPU limit stays available to the report through the object.
        return {
            "cpu_request_millicores": self.cpu_request_millicores,
            "memory_request_mib": self.memory_request_mib,
            "memory_limit_mib": self.memory_limit_mib,
        }


@dataclass(frozen=True)
class Recommendation:
    namespace: str
    workload: str
    container: str
    cpu_request_millicores: int | None
    cpu_limit_millicores: int | None
    memory_request_mib: int | None
    memory_limit_mib: int | None
    current: Current
    strategy: str
    samples: int
    history_hours: float
    confidence: str  # "high" | "medium" | "low" | "none"
    status: str  # "ok" | "insufficient-data" | "no-change" | ...
    reasons: tuple[str, ...] = ()
    # "docker" | "kubernetes" | None: which patch format applies.  Not part of the JSON contract.
    platform: str | None = None

    @property
    def key(self) -> ContainerKey:
        return ContainerKey(self.namespace, self.workload, self.container)

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "workload": self.workload,
            "container": self.container,
            "cpu_request_millicores": _clean(self.cpu_request_millicores),
            "cpu_limit_millicores": _clean(self.cpu_limit_millicores),
            "memory_request_mib": _clean(self.memory_request_mib),
            "memory_limit_mib": _clean(self.memory_limit_mib),
            "current": self.current.to_dict(),
            "strategy": self.strategy,
            "samples": int(self.samples),
            "history_hours": round(float(self.history_hours), 1),
            "confidence": self.confidence,
            "status": self.status,
            "reasons": list(self.reasons),
        }


SEVERITIES = ("info", "warning", "critical")


def severity_rank(severity: str) -> int:
    try:
        return SEVERITIES.index(severity)
    except ValueError as exc:
        raise InputError(
            f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}"
        ) from exc


@dataclass(frozen=True)
class Finding:
    namespace: str
    workload: str
    container: str
    kind: str
    severity: str  # one of SEVERITIES
    at: str | None  # RFC 3339 UTC, "Z" suffix
    evidence: tuple[str, ...]
    advice: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evidence"] = list(self.evidence)
        return d


@dataclass
class Result:
    """What an analysing command produced, including what went wrong along the way."""

    recommendations: list[Recommendation] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # sources that failed; the rest still ran
    notes: list[str] = field(default_factory=list)  # data-quality counts and the like

    def worst_severity(self) -> str | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=severity_rank)


def format_time(ts: pd.Timestamp | None) -> str | None:
    if ts is None or pd.isna(ts):
        return None
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return t.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
