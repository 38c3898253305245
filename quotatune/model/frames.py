"""The canonical frames (docs/architecture.md, "Data contracts").

Frames are plain pandas DataFrames with the columns below; ``validate_*`` checks them where
data enters (importers, collectors) and raises :class:`InputError` naming the source, column
and row.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from quotatune.model.errors import InputError, RowError
from quotatune.model.names import workload_from_pod
from quotatune.model.nametext import NAME_COLUMNS, first_bad_name

# ---------------------------------------------------------------------------------------------
# Frame schemas

KEY_COLUMNS = ["namespace", "workload", "container"]
USAGE_REQUIRED = ["timestamp", "namespace", "container", "cpu_cores", "memory_working_set_bytes"]
USAGE_COLUMNS = [
    "timestamp",
    "namespace",
    "workload",
    "pod",
    "container",
    "cpu_cores",
    "memory_working_set_bytes",
]
USAGE_OPTIONAL_FLOAT = [
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
    "restarts",
    "cpu_throttled_ratio",
]
# ``platform`` is "docker" or "kubernetes" when the source knows it (selects the patch format).
USAGE_OPTIONAL_STR = ["workload_kind", "node", "platform"]

# One row per container (per pod when pods differ).  ``env_names`` is a list of names only;
# ``jvm_options`` carries the JVM flags found in the command, args and the JAVA_* variables
# (needed by the JVM finding; never rendered in full); ``non_ascii_env`` lists the *names* of
# variables whose values are not ASCII.  Environment values themselves are never kept.
SPEC_COLUMNS = [
    "namespace",
    "workload",
    "workload_kind",
    "pod",
    "container",
    "node",
    "image",
    "command",
    "args",
    "env_names",
    "jvm_options",
    "non_ascii_env",
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
    "replicas",
    "restarts",
    "init_container",
    "phase",
    "waiting_reason",
    "source",
]

# One row per event: terminations, scheduling failures, matched log lines, API events.
# kind: "termination" | "waiting" | "scheduling" | "log" | "event" | "oom-event" | "eviction"
#       | "start" (the start of a container's current run)
# The nodes frame, one row per node:
#   node                    node name
#   cpu_capacity_cores      status.capacity.cpu, in cores (float, exact for millicores)
#   cpu_allocatable_cores   status.allocatable.cpu: what pods may request in total
#   memory_capacity_bytes   status.capacity.memory, bytes
#   memory_allocatable_bytes status.allocatable.memory, bytes
#   pods_allocatable        status.allocatable.pods (max pods)
#   instance_type           node.kubernetes.io/instance-type (or the beta label), "" if none
#   zone                    topology.kubernetes.io/zone (or the beta label), "" if none
#   arch                    kubernetes.io/arch
#   unschedulable           spec.unschedulable (cordoned)
#   ready                   the Ready condition is True
NODE_COLUMNS = [
    "node",
    "cpu_capacity_cores",
    "cpu_allocatable_cores",
    "memory_capacity_bytes",
    "memory_allocatable_bytes",
    "pods_allocatable",
    "instance_type",
    "zone",
    "arch",
    "unschedulable",
    "ready",
]

# Reason of the log events that carry an hs_err file's JVM/cgroup facts (evidence, not failures).
HS_ERR_INFO = "hs_err-info"

EVENT_COLUMNS = [
    "timestamp",
    "namespace",
    "workload",
    "pod",
    "container",
    "kind",
    "reason",
    "exit_code",
    "oom_killed",
    "message",
    "source",
]

def _fail(source: str, column: str, row: int | None, what: str) -> InputError:
    if row is None:
        return InputError(f"{source}: column {column!r}: {what}")
    return RowError(source, column, row, what)


def validate_usage(df: pd.DataFrame, source: str, *, row_offset: int = 2) -> pd.DataFrame:
    """Check and normalise a usage frame; return it with canonical dtypes.

    ``row_offset`` maps frame positions to the row numbers a user sees (2 for a CSV with a
    header line).  Rows are reported by that number.
    """
    missing = [c for c in USAGE_REQUIRED if c not in df.columns]
    if missing:
        raise InputError(
            f"{source}: missing column(s) {', '.join(missing)}; "
            f"expected at least {', '.join(USAGE_REQUIRED)}"
        )
    if df.empty:
        raise InputError(f"{source}: no samples")
    # Columns gathered, then framed once in canonical order on a fresh index: inserting them
    # one by one and reordering cost more than checking a chunk's values.
    out: dict[str, Any] = {}
    out["timestamp"] = _parse_timestamps(df["timestamp"], source, row_offset)
    for col in ("namespace", "container"):
        s = df[col]
        bad = _empty_names(s)
        if bad.any():
            raise _fail(source, col, _row(bad, row_offset), "empty name")
        out[col] = _names_column(s)
    for col in NAME_COLUMNS:
        if col in df.columns:
            fault = first_bad_name(df[col], col)
            if fault is not None:
                raise _fail(source, col, fault[0] + row_offset, fault[1])
    out["pod"] = (_names_column(df["pod"], fill=True) if "pod" in df.columns
                  else pd.Series("", index=df.index))
    if "workload" in df.columns:
        w = _names_column(df["workload"], fill=True)
    else:
        w = pd.Series("", index=df.index)
    empty_w = (w == "").to_numpy(dtype=bool)
    if empty_w.any():
        w = _derive_workloads(w, out["pod"], out["container"], empty_w, source, row_offset)
    out["workload"] = w
    for col in ("cpu_cores", "memory_working_set_bytes"):
        out[col] = _numeric(df[col], source, col, row_offset, required=True)
    for col in USAGE_OPTIONAL_FLOAT:
        if col in df.columns:
            out[col] = _numeric(df[col], source, col, row_offset, required=False)
    for col in USAGE_OPTIONAL_STR:
        if col in df.columns:
            out[col] = _names_column(df[col], fill=True)
    frame = pd.DataFrame({c: out[c] for c in _ordered(out)}, copy=False)
    return frame.reset_index(drop=True)


# Name columns: a categorical column (a dictionary-encoded Parquet or CSV column) is checked
# and mapped through its categories, never row by row: converting every row to a Python
# string was most of the time of a large import.  Other columns keep the text path.
def _is_cat(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype)


def _empty_names(s: pd.Series) -> np.ndarray:
    """Per row, whether the name is missing or blank."""
    if _is_cat(s):
        cats = s.cat.categories.astype(str)
        bad_cat = np.asarray(cats.str.strip() == "", dtype=bool)
        codes = np.asarray(s.array.codes)
        if not bad_cat.any():  # per-row work only when some category is bad
            return codes < 0
        return (codes < 0) | (bad_cat[codes] if len(bad_cat) else False)
    return (s.isna() | (s.astype(str).str.strip() == "")).to_numpy(dtype=bool)


def _names_column(s: pd.Series, *, fill: bool = False) -> pd.Series:
    """Canonical names: text, or a categorical of text; missing is "" when ``fill``."""
    if not _is_cat(s):
        if fill:
            return s.astype("string").fillna("").astype(str)
        return s.astype(str)
    if not pd.api.types.is_string_dtype(s.cat.categories) or s.cat.categories.dtype == object:
        s = s.cat.rename_categories(list(s.cat.categories.astype(str)))
    if fill and len(s) and np.asarray(s.array.codes).min() < 0:
        if "" not in s.cat.categories:
            s = s.cat.add_categories([""])
        s = s.fillna("")
    return s


def _derive_workloads(w: pd.Series, pod: pd.Series, container: pd.Series,
                      empty: np.ndarray, source: str, row_offset: int) -> pd.Series:
    """Workload names for rows without one, from the pod name (else the container name):
    derived once per distinct name, then spread to the rows."""
    pods = np.asarray(pod.to_numpy(dtype=object)[empty], dtype=object)
    conts = np.asarray(container.to_numpy(dtype=object)[empty], dtype=object)
    src = np.where(pods != "", pods, conts).astype(str)
    uniq, inv = np.unique(src, return_inverse=True)
    names = [workload_from_pod(u) for u in uniq]
    # A pod may hold a '/', a workload may not: "pay/web-7d4b9c8f6d-x2k9p" gives "pay/web",
    # which no TARGET can name (the pods' other characters and containers are checked).
    split = np.array(["/" in n for n in names], dtype=bool)
    if split.any():
        at = int(np.flatnonzero(split[inv])[0])
        raise _fail(source, "pod", int(np.flatnonzero(empty)[at]) + row_offset,
                    f"name {src[at][:60]!r} gives workload {names[inv[at]][:60]!r} (no "
                    "workload given), which holds '/', the separator of "
                    "ns/workload/container")
    derived = np.array(names, dtype=object)[inv]
    if _is_cat(w):
        values = w.astype(object).to_numpy(dtype=object) if not empty.all() else derived
        if not empty.all():
            values = values.copy()
            values[empty] = derived
        return pd.Series(pd.Categorical(values), index=w.index)
    out = w.to_numpy(dtype=object).copy()
    out[empty] = derived
    return pd.Series(out, index=w.index).astype(str)


def _ordered(cols: Iterable[str]) -> list[str]:
    cols = list(cols)
    head = [c for c in USAGE_COLUMNS if c in cols]
    return head + [c for c in cols if c not in head]


def _row(mask: np.ndarray, row_offset: int) -> int:
    pos = int(np.flatnonzero(mask)[0])
    return pos + row_offset


MAX_VALUE = float(2**53)
_MAX_BITS = int(np.array(MAX_VALUE).view(np.uint64))
# Columns that are shares of a whole: the share of CFS periods in which the container was
# throttled cannot be above 1 (a ratio of counter deltas across a reset, or a unit mistake
# such as a percentage, would read as throttled "150 %" of the time).
SHARES = ("cpu_throttled_ratio",)


def _numeric(
    s: pd.Series, source: str, col: str, row_offset: int, *, required: bool
) -> pd.Series:
    hi = 1.0 if col in SHARES else MAX_VALUE
    if pd.api.types.is_bool_dtype(s):
        raise _fail(source, col, row_offset, "not a number: a true/false column")
    if s.dtype == "float64":  # what typed readers give: nothing to convert, one pass to check
        _check_values(s.to_numpy(), source, col, row_offset, required=required, hi=hi)
        return s
    v = pd.to_numeric(s, errors="coerce").astype("float64")
    # Only values that did not convert need a look as text: converting a whole numeric column
    # to strings made validation the slowest step of an import.
    bad_text = v.isna() & s.notna()
    if bad_text.any():
        bad_text &= s.astype(str).str.strip() != ""
    if bad_text.any():
        pos = int(np.flatnonzero(bad_text.to_numpy())[0])
        raise _fail(source, col, pos + row_offset, f"not a number: {str(s.iloc[pos])[:40]!r}")
    _check_values(v.to_numpy(), source, col, row_offset, required=required, hi=hi)
    return v


def _check_values(arr: np.ndarray, source: str, col: str, row_offset: int, *,
                  required: bool, hi: float = MAX_VALUE) -> None:
    # One reduction over the bits finds the usual column fine (read as unsigned integers,
    # floats order as they do from +0 up, and any negative value or NaN reads above them).
    # Else min/max are NaN if any value is, fmin/fmax skip NaN (allowed where not required);
    # only then is the first bad row looked for.
    hi_bits = _MAX_BITS if hi == MAX_VALUE else int(np.array(hi).view(np.uint64))
    if len(arr) == 0 or arr.dtype == np.float64 and arr.view(np.uint64).max() <= hi_bits:
        return
    if arr.min() >= 0 and arr.max() <= hi:  # nothing missing, all in range
        return
    if not required:
        least, most = np.fmin.reduce(arr), np.fmax.reduce(arr)  # slower: only with NaN present
        if np.isnan(least) or (least >= 0 and most <= hi):  # all missing, or all in range
            return
    with np.errstate(invalid="ignore"):
        ok = (arr >= 0) & (arr <= hi)
    missing = np.isnan(arr)
    if required and missing.any():
        raise _fail(source, col, int(np.flatnonzero(missing)[0]) + row_offset,
                    "missing value")
    # Past 2^53 a float no longer holds whole bytes and the integer outputs would overflow:
    # 8 PiB of memory or 9e15 cores is a unit mistake, not a container.
    pos = int(np.flatnonzero(~ok & ~missing)[0])
    if hi < MAX_VALUE:
        raise _fail(source, col, pos + row_offset,
                    f"a share must be from 0 to {hi:g}, not {float(arr[pos])}")
    raise _fail(source, col, pos + row_offset,
                f"negative, infinite or implausibly large value {float(arr[pos])}")


# Nanosecond timestamps span 1677-09-22 .. 2262-04-11; outside that pandas raises instead of
# returning NaT, so out-of-range values are turned into NaT first and reported by row.
_TS_LO = pd.Timestamp("1677-09-22", tz="UTC")
_TS_HI = pd.Timestamp("2262-04-11", tz="UTC")
# The same span as integers, for readers that check typed times before pandas sees them.
TIME_SPAN_NS = (_TS_LO.value, _TS_HI.value)
NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_EPOCH_LIMIT = 9.2e9  # seconds either side of 1970 that fit in that span
_RFC3339_START = r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _check_time_span(v: np.ndarray, unit: str, source: str, row_offset: int) -> None:
    """Times in ``unit`` since 1970 (NaT: the int64 minimum) must fall in 1677..2262."""
    scale = NS_PER_UNIT[unit]
    lo, hi = -(-_TS_LO.value // scale), _TS_HI.value // scale  # whole units inside the span
    if len(v) == 0 or (int(v.min()) >= lo and int(v.max()) <= hi):
        return
    pos = int(np.flatnonzero((v < lo) | (v > hi))[0])
    what = "NaT" if v[pos] == np.iinfo(np.int64).min else f"{int(v[pos])} {unit} since 1970"
    raise _fail(source, "timestamp", pos + row_offset,
                f"not an RFC 3339 time or epoch seconds in 1677..2262: {what!r}")


def _parse_timestamps(s: pd.Series, source: str, row_offset: int) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        dtype = s.dtype
        unit = (dtype.unit if isinstance(dtype, pd.DatetimeTZDtype)
                else str(np.datetime_data(np.dtype(str(dtype)))[0]))
        if unit != "ns":
            # s/ms/us reach far past the ns span, where a Timestamp cannot even be compared
            # or printed: the span is checked on the integers (instants, whatever the zone).
            _check_time_span(np.asarray(s.array.view("i8")), unit, source, row_offset)
        utc = isinstance(s.dtype, pd.DatetimeTZDtype) and str(s.dtype.tz) == "UTC"
        ts = s if utc else pd.to_datetime(s, utc=True)  # typed readers give UTC already
    else:
        # Per value: a number is epoch seconds, text must be an RFC 3339 / ISO 8601 date-time.
        # (format="mixed" let dateutil read "now", "2a" or "T4" as times: silently wrong.)
        num = pd.to_numeric(s, errors="coerce").astype("float64")
        num = num.where(num.abs() < _EPOCH_LIMIT)
        ts = pd.to_datetime(num, unit="s", utc=True)
        text = s[num.isna() & s.notna()]
        if not text.empty:
            text = text.astype(str)
            text = text[text.str.match(_RFC3339_START)]
            parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
            parsed = parsed.where((parsed >= _TS_LO) & (parsed <= _TS_HI))
            ts = ts.astype("datetime64[ns, UTC]")
            ts.loc[parsed.index] = parsed.astype("datetime64[ns, UTC]")
    # NaT is the int64 minimum in every unit: one reduction finds it, no mask is built.
    if int(np.asarray(ts.array.view("i8")).min()) == np.iinfo(np.int64).min:
        pos = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise _fail(
            source, "timestamp", pos + row_offset,
            f"not an RFC 3339 time or epoch seconds in 1677..2262: {str(s.iloc[pos])[:40]!r}",
        )
    return ts if str(ts.dtype) == "datetime64[ns, UTC]" else ts.astype("datetime64[ns, UTC]")


def empty_usage() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="object") for c in USAGE_COLUMNS})
    df["timestamp"] = pd.Series(dtype="datetime64[ns, UTC]")
    df["cpu_cores"] = pd.Series(dtype="float64")
    df["memory_working_set_bytes"] = pd.Series(dtype="float64")
    return df


def empty_specs() -> pd.DataFrame:
    return _empty_specs().copy()


def empty_events() -> pd.DataFrame:
    return _empty_events().copy()


# Every chunk of a streamed file carries empty specs and events: building the frames once and
# copying them is 10x cheaper (each caller still gets its own frame).
@functools.cache
def _empty_specs() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in SPEC_COLUMNS})


@functools.cache
def _empty_events() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="object") for c in EVENT_COLUMNS})
    df["timestamp"] = pd.Series(dtype="datetime64[ns, UTC]")
    return df
