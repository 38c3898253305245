"""Small builders for spec / event / usage frames in the shape the collectors produce."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quotatune import model

NOW = pd.Timestamp("2026-11-27T22:00:00Z")


def events(*rows: dict[str, Any]) -> pd.DataFrame:
    base = {"timestamp": NOW, "namespace": "shop", "workload": "api", "pod": "api-1",
            "container": "api", "kind": "log", "reason": "", "exit_code": None,
            "oom_killed": False, "message": "", "source": "docker"}
    df = pd.DataFrame([{**base, **r} for r in rows], columns=model.EVENT_COLUMNS)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["exit_code"] = df["exit_code"].astype("Int64")
    return df


def specs(*rows: dict[str, Any]) -> pd.DataFrame:
    base: dict[str, Any] = {c: None for c in model.SPEC_COLUMNS}
    base.update(namespace="shop", workload="api", pod="api-1", container="api", jvm_options=(),
                non_ascii_env=(), env_names=(), phase="running", waiting_reason="",
                source="docker")
    return pd.DataFrame([{**base, **r} for r in rows], columns=model.SPEC_COLUMNS)


def usage(memory: np.ndarray, *, minutes: float = 1.0, cpu: float | np.ndarray = 0.1,
          limit: float | None = None, start: pd.Timestamp | None = None,
          **cols: Any) -> pd.DataFrame:
    n = len(memory)
    t0 = start if start is not None else NOW - pd.Timedelta(minutes=minutes * (n - 1))
    df = pd.DataFrame({
        "timestamp": t0 + pd.to_timedelta(np.arange(n) * minutes, unit="min"),
        "namespace": "shop", "workload": "api", "pod": "api-1", "container": "api",
        "cpu_cores": np.broadcast_to(cpu, n).astype(float),
        "memory_working_set_bytes": np.asarray(memory, dtype=float),
    })
    if limit is not None:
        df["memory_limit_bytes"] = float(limit)
    for k, v in cols.items():
        df[k] = v
    return model.validate_usage(df, "test")
