"""What a parser's output must satisfy whatever it was fed: the property the fuzz tests check
beyond "no exception"."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from quotatune import model

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAMES = ("namespace", "workload", "pod", "container")
_NON_NEGATIVE = ("cpu_cores", "memory_working_set_bytes", "cpu_request_cores", "cpu_limit_cores",
                 "memory_request_bytes", "memory_limit_bytes", "restarts", "cpu_throttled_ratio")


def assert_well_formed(result: Any, depth: int = 0) -> None:
    """Every frame in ``result`` (a frame, Collected, dataclass, tuple, list or dict of them)
    has UTC timestamps, finite non-negative usage and limits, and names without control
    characters; a container usage frame has every required column (node usage has none)."""
    if depth > 4 or result is None:
        return
    if isinstance(result, pd.DataFrame):
        _check_frame(result)
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        for f in dataclasses.fields(result):
            assert_well_formed(getattr(result, f.name), depth + 1)
    elif isinstance(result, dict):
        for v in result.values():
            assert_well_formed(v, depth + 1)
    elif isinstance(result, list | tuple):
        for v in result[:50]:
            assert_well_formed(v, depth + 1)
    elif isinstance(result, float):
        assert not math.isinf(result), result


def _check_frame(df: pd.DataFrame) -> None:
    if {"cpu_cores", "memory_working_set_bytes", "pod"} <= set(df.columns):  # container usage
        missing = set(model.USAGE_REQUIRED) - set(df.columns)
        assert not missing, f"usage frame without {sorted(missing)}"
    if "timestamp" in df.columns and len(df):
        ts = df["timestamp"]
        assert isinstance(ts.dtype, pd.DatetimeTZDtype) and str(ts.dt.tz) == "UTC", ts.dtype
    for col in _NON_NEGATIVE:
        if col in df.columns and len(df):
            v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
            v = v[~np.isnan(v)]
            assert np.isfinite(v).all() and (v >= 0).all(), (col, v[:5])
    for col in _NAMES:
        if col in df.columns and len(df):
            bad = [s for s in df[col].dropna().astype(str).unique()[:1000] if _CONTROL.search(s)]
            assert not bad, (col, bad[:3])
