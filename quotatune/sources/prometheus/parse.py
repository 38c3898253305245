"""Pure parsers for Prometheus HTTP API responses (``/api/v1/query`` and ``query_range``).

The transport lives in :mod:`.collector`; everything here takes the decoded
JSON body and returns frames, so it is tested on real payload shapes without a server.

A body with ``"status": "error"`` raises :class:`PrometheusError` (a :class:`SourceError`: the
server answered, and said no); a body of the wrong shape raises :class:`InputError`.  Nothing
else escapes, whatever the input.

A series whose labels name a namespace, pod, container, node or owner with what no platform
allows in a name (:mod:`quotatune.model.nametext`: a control or bidirectional character, or
a '/' that would split ``ns/workload/container``) is left out when the caller passes a
:class:`BadNames` to count it in: one relabelled or hand-pushed series failed the validation
of the whole collection, and every other series with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quotatune import model
from quotatune.model.errors import InputError, SourceError
from quotatune.model.names import strip_replicaset_hash
from quotatune.model.nametext import (
    TARGET_PARTS,
    UNSAFE,
    UNSAFE_IN_TARGET_PART,
    escaped,
    name_fault,
    shown,
)
from quotatune.model.redact import redact

KEY = ["namespace", "pod", "container"]
# The sandbox ("pause") container of every pod.  cAdvisor labels it "POD" under dockershim
# and leaves ``container`` empty for pod- and node-level cgroups.
_NOT_CONTAINERS = {"", "POD"}
# Timestamps pandas can represent (ns since 1970 in int64), in seconds.
_TS_MIN, _TS_MAX = -9.2e9, 9.2e9
# The labels whose values become names, each held to the rule of the column it becomes: an
# owner (kube_pod_owner) or a ReplicaSet's owner becomes a workload.  Other labels (``id``,
# a cgroup path; ``image``) are no names and may hold a '/'.
NAME_LABELS = {"namespace": "namespace", "pod": "pod", "container": "container",
               "node": "node", "owner_name": "workload", "replicaset": "workload"}


class PrometheusError(SourceError):
    """Prometheus answered with ``status: error`` (bad query, timeout, execution failure)."""

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type


def response_data(resp: Any, what: str = "response") -> Mapping[str, Any]:
    """Check the envelope and return ``data``; error bodies become one clear message."""
    if not isinstance(resp, Mapping):
        raise InputError(f"{what}: not a Prometheus API response (a JSON object was expected)")
    status = resp.get("status")
    if status == "error":
        etype = resp.get("errorType")
        msg = resp.get("error")
        etype_s = str(etype)[:60] if etype is not None else "unknown"
        msg_s = redact(" ".join(str(msg).split()))[:300] if msg is not None else "no message"
        raise PrometheusError(f"{what}: Prometheus error ({etype_s}): {msg_s}", etype_s)
    if status != "success":
        raise InputError(f"{what}: not a Prometheus API response (status {str(status)[:40]!r})")
    data = resp.get("data")
    if not isinstance(data, Mapping):
        raise InputError(f"{what}: Prometheus response has no 'data' object")
    return data


def warnings_of(resp: Any) -> list[str]:
    """The ``warnings`` a server attaches (e.g. partial data from a Thanos store)."""
    if not isinstance(resp, Mapping):
        return []
    w = resp.get("warnings")
    if not isinstance(w, list):
        return []
    return [" ".join(str(x).split())[:300] for x in w]


def _result(resp: Any, expected: str, what: str) -> list[Any]:
    data = response_data(resp, what)
    rtype = data.get("resultType")
    if rtype != expected:
        raise InputError(f"{what}: expected a {expected} result, got {str(rtype)[:40]!r}")
    result = data.get("result")
    if not isinstance(result, list):
        raise InputError(f"{what}: 'result' is not a list")
    return result


@dataclass
class BadNames:
    """Label values no platform allows in a name, met while parsing: the series that carry
    one are left out.  Each (label, value) is kept once, so a series met in many queries
    (CPU, memory, time pieces) counts once."""

    values: set[tuple[str, str]] = field(default_factory=set)

    def found_in(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` hold a value that its name column cannot (recorded here)."""
        bad = [(k, v) for k, v in labels.items()
               if k in NAME_LABELS and v and name_fault(v, NAME_LABELS[k]) is not None]
        self.values.update(bad)
        return bool(bad)

    def update(self, other: BadNames) -> None:
        self.values |= other.values

    def note(self) -> str | None:
        """One line for ``Collected.notes``: how many values, and the first (by label, then
        value, so the line is the same whatever order the queries came back in) shown with
        its characters escaped, so that it cannot act on the terminal, and the character
        that no name may hold (a long value is cut, perhaps before it)."""
        if not self.values:
            return None
        label, value = min(self.values)
        column = NAME_LABELS[label]
        found = (UNSAFE_IN_TARGET_PART if column in TARGET_PARTS else UNSAFE).search(value)
        held = "'/'" if found is None or found.group() == "/" else escaped(found.group())
        cut = f"{value[:60]}…" if len(value) > 60 else value
        return (f"left out the series of {len(self.values)} label value(s) that no platform "
                f"allows in a name (the first: {label}=\"{shown(cut)}\", holding {held})")


def _labels(series: Any, i: int, what: str) -> dict[str, str]:
    if not isinstance(series, Mapping):
        raise InputError(f"{what}: series {i} is not an object")
    metric = series.get("metric", {})
    if not isinstance(metric, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metric.items()
    ):
        raise InputError(f"{what}: series {i} has malformed labels")
    return dict(metric)


def _points(values: Any, i: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``[[ts, "value"], …]`` -> (seconds, values) arrays, or InputError."""
    if not isinstance(values, list):
        raise InputError(f"{what}: series {i} has no 'values' list")
    if not values:
        return np.empty(0), np.empty(0)
    try:
        # One numpy conversion instead of a Python loop per point: ragged or nested points
        # fail in np.array, non-numbers in astype.  Values are strings in the API ("1.5",
        # "NaN", "+Inf"); numbers are accepted too.
        arr = np.array(values, dtype=object)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError("point is not a [timestamp, value] pair")
        ts = arr[:, 0].astype("float64")
        vals = arr[:, 1].astype("float64")
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{what}: series {i} has a malformed sample ({str(exc)[:80]})") from None
    if not np.isfinite(ts).all() or (ts < _TS_MIN).any() or (ts > _TS_MAX).any():
        raise InputError(f"{what}: series {i} has an impossible timestamp")
    return ts, vals


def _frame(rows: list[tuple[dict[str, str], np.ndarray, np.ndarray]]) -> pd.DataFrame:
    names = sorted({k for labels, _, _ in rows for k in labels})
    if not rows:
        out = pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
                            "value": pd.Series(dtype="float64")})
        return out
    lengths = np.array([len(ts) for _, ts, _ in rows])
    cols: dict[str, Any] = {}
    for name in names:
        # One label value per series, repeated per point: cheap as a categorical.
        per_series = [labels.get(name, "") for labels, _, _ in rows]
        cols[name] = pd.Categorical(np.repeat(np.array(per_series, dtype=object), lengths))
    ts = np.concatenate([t for _, t, _ in rows]) if len(rows) else np.empty(0)
    # Millisecond precision is what Prometheus stores; rounding avoids float noise.
    cols["timestamp"] = pd.to_datetime(np.round(ts * 1000).astype("int64"), unit="ms", utc=True)
    cols["value"] = np.concatenate([v for _, _, v in rows])
    out = pd.DataFrame(cols)
    for name in names:
        out[name] = out[name].astype(str)
    return out


def parse_prom_matrix(resp: Any, what: str = "query_range",
                      bad_names: BadNames | None = None) -> pd.DataFrame:
    """A ``matrix`` response -> long frame: one column per label, ``timestamp``, ``value``.
    With ``bad_names``, the series with a name no platform allows are left out and counted
    there."""
    result = _result(resp, "matrix", what)
    rows = []
    for i, series in enumerate(result):
        labels = _labels(series, i, what)
        ts, vals = _points(series.get("values"), i, what)
        if bad_names is not None and bad_names.found_in(labels):
            continue
        if len(ts):
            rows.append((labels, ts, vals))
    return _frame(rows)


def parse_prom_vector(resp: Any, what: str = "query",
                      bad_names: BadNames | None = None) -> pd.DataFrame:
    """A ``vector`` response (instant query) -> one row per series, same columns; with
    ``bad_names``, as :func:`parse_prom_matrix`."""
    result = _result(resp, "vector", what)
    rows = []
    for i, series in enumerate(result):
        labels = _labels(series, i, what)
        ts, vals = _points([series.get("value")], i, what)
        if bad_names is not None and bad_names.found_in(labels):
            continue
        rows.append((labels, ts, vals))
    return _frame(rows)


def container_rows(df: pd.DataFrame, value_name: str,
                   keep: list[str] | None = None) -> tuple[pd.DataFrame, int]:
    """Keep real containers (drop pause and pod/node cgroups), finite non-negative values.

    Returns ``(frame with namespace, pod, container, timestamp, <value_name>)`` and the number
    of samples dropped for being NaN, infinite or negative (counted, never silently used).
    """
    for col in KEY:
        if col not in df.columns:
            df = df.assign(**{col: ""})
    real = ~df["container"].isin(_NOT_CONTAINERS) & (df["namespace"] != "")
    df = df.loc[real, [*KEY, *(keep or []), "timestamp", "value"]]
    v = df["value"].to_numpy(dtype="float64")
    good = np.isfinite(v) & (v >= 0)
    bad = int((~good).sum())
    out = df.loc[good].rename(columns={"value": value_name}).reset_index(drop=True)
    return out, bad


def throttled_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The throttled share of CFS periods per container and instant (``throttle_expr``), as
    :func:`container_rows` keeps them, and at most 1."""
    rows, _ = container_rows(df, "cpu_throttled_ratio")
    # rate() handles counter resets, but extrapolates each counter to the window's edges on
    # its own (stopping the smaller one at zero): a container throttled in every period can
    # come out a hair above 1.  The share it measures is 1; validation refuses more.
    rows["cpu_throttled_ratio"] = rows["cpu_throttled_ratio"].clip(upper=1.0)
    return rows


def owner_map(pod_owner: pd.DataFrame, rs_owner: pd.DataFrame) -> pd.DataFrame:
    """``kube_pod_owner`` (+ ``kube_replicaset_owner``) -> namespace, pod, workload, kind.

    A pod owned by a ReplicaSet belongs to the ReplicaSet's owner (a Deployment); a ReplicaSet
    without an owner is the workload itself.  Pods owned by a Node (static pods) or by nothing
    fall back to the pod name (see :func:`apply_workloads`).
    """
    cols = ["namespace", "pod", "workload", "workload_kind"]
    need = {"namespace", "pod", "owner_kind", "owner_name"}
    if pod_owner.empty or not need <= set(pod_owner.columns):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    po = pod_owner[list(need)].drop_duplicates(["namespace", "pod"], keep="last")
    po = po[(po["owner_name"] != "") & (po["owner_kind"] != "Node")]
    rs_need = {"namespace", "replicaset", "owner_kind", "owner_name"}
    if not rs_owner.empty and rs_need <= set(rs_owner.columns):
        rs = rs_owner[list(rs_need)]
        rs = rs[rs["owner_name"] != ""].drop_duplicates(["namespace", "replicaset"], keep="last")
        rs = rs.rename(columns={"replicaset": "owner_name", "owner_kind": "rs_kind",
                                "owner_name": "rs_owner"})
        po = po.merge(rs, on=["namespace", "owner_name"], how="left")
    else:
        po = po.assign(rs_kind=np.nan, rs_owner=np.nan)
    via_rs = (po["owner_kind"] == "ReplicaSet") & po["rs_owner"].notna()
    workload = po["owner_name"].where(~via_rs, po["rs_owner"])
    kind = po["owner_kind"].where(~via_rs, po["rs_kind"])
    # A ReplicaSet whose owner is unknown (no kube_replicaset_owner): strip its hash.
    bare_rs = (po["owner_kind"] == "ReplicaSet") & ~via_rs
    workload = workload.where(~bare_rs, po["owner_name"].map(strip_replicaset_hash))
    out = pd.DataFrame({"namespace": po["namespace"], "pod": po["pod"],
                        "workload": workload.astype(str), "workload_kind": kind.astype(str)})
    return out.reset_index(drop=True)


def apply_workloads(df: pd.DataFrame, owners: pd.DataFrame) -> pd.DataFrame:
    """Add ``workload``/``workload_kind``: from owner metrics, else from the pod name."""
    if owners.empty:
        none = pd.Series(None, index=df.index, dtype=object)
        merged = df.assign(workload=none, workload_kind=none)
    else:
        merged = df.merge(owners, on=["namespace", "pod"], how="left")
    pods = merged["pod"].astype(str)
    fallback = pods.where(pods != "", merged["container"].astype(str)).map(
        model.workload_from_pod
    )
    merged["workload"] = merged["workload"].where(merged["workload"].notna(), fallback)
    merged["workload_kind"] = merged["workload_kind"].astype(object).fillna("")
    return merged


def parse_label_values(resp: Any, what: str = "label values") -> list[str]:
    """``/api/v1/label/<name>/values`` -> the values (strings)."""
    if isinstance(resp, Mapping) and resp.get("status") == "success":
        data = resp.get("data")
        if isinstance(data, list) and all(isinstance(x, str) for x in data):
            return list(data)
        raise InputError(f"{what}: 'data' is not a list of strings")
    response_data(resp, what)  # raises the error body's message, or a shape error
    raise InputError(f"{what}: 'data' is not a list of strings")


def parse_series_pods(resp: Any, what: str = "series") -> dict[str, int]:
    """``/api/v1/series`` -> raw series per ``pod`` label (series without a pod are left out:
    no query of ours reads them per pod)."""
    data = resp.get("data") if isinstance(resp, Mapping) else None
    if not (isinstance(resp, Mapping) and resp.get("status") == "success"):
        response_data(resp, what)  # raises the error body's message, or a shape error
    if not isinstance(data, list) or not all(isinstance(s, Mapping) for s in data):
        raise InputError(f"{what}: 'data' is not a list of label sets")
    counts: dict[str, int] = {}
    for labels in data:
        pod = labels.get("pod")
        if isinstance(pod, str) and pod:
            counts[pod] = counts.get(pod, 0) + 1
    return counts
