"""Events from Prometheus series: OOM kills from the cgroup counter, terminations from
kube-state-metrics, and the one kill both of them saw counted once.  Pure functions over the
long frames :mod:`.parse` makes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune import model
from quotatune.sources.prometheus.parse import KEY


def _event_frame(rows: pd.DataFrame) -> pd.DataFrame:
    out = model.empty_events()
    if rows.empty:
        return out
    return pd.concat([out, rows], ignore_index=True)[model.EVENT_COLUMNS]


def oom_events(counter: pd.DataFrame) -> pd.DataFrame:
    """Increases of ``container_oom_events_total`` (namespace/pod/container/timestamp/value)
    -> ``oom-event`` rows.  A drop is a counter reset: the new value counts as increases."""
    if counter.empty:
        return model.empty_events()
    df = counter.sort_values([*KEY, "timestamp"])
    prev = df.groupby(KEY, sort=False, observed=True)["value"].shift()
    inc = (df["value"] - prev).where(df["value"] >= prev, df["value"])
    hit = prev.notna() & (inc > 0)
    ev = df.loc[hit, [*KEY, "timestamp"]].copy()
    n = inc[hit].round().astype(int).clip(lower=1)
    ev["kind"] = "oom-event"
    ev["reason"] = "OOMKilled"
    ev["exit_code"] = None
    ev["oom_killed"] = True
    ev["message"] = [f"container_oom_events_total increased by {k}" for k in n]
    ev["source"] = "prometheus"
    return _event_frame(ev)


def termination_events(reasons: pd.DataFrame, times: pd.DataFrame, codes: pd.DataFrame,
                       step_s: float) -> pd.DataFrame:
    """kube-state-metrics last-terminated series -> ``termination`` rows.

    ``reasons`` has a ``reason`` label (value 1 while it is the last termination); ``times``
    (``..._last_terminated_timestamp``, newer kube-state-metrics) tells terminations apart:
    each distinct value is one termination at that time.  Without it, each run of a reason
    series is one termination, dated when the run starts.
    """
    if reasons.empty or "reason" not in reasons.columns:
        return model.empty_events()
    r = reasons[reasons["value"] > 0].sort_values("timestamp")
    if r.empty:
        return model.empty_events()
    if not times.empty:
        t = times[times["value"] > 0].sort_values("timestamp")
        first: pd.DataFrame = (t.groupby([*KEY, "value"], observed=True)["timestamp"].min()
                               .reset_index().sort_values("timestamp"))
        ev = pd.merge_asof(first, r[[*KEY, "timestamp", "reason"]], on="timestamp", by=KEY,
                           direction="nearest", tolerance=pd.Timedelta(seconds=2 * step_s))
        ev["seen"] = ev["timestamp"]
        ev["timestamp"] = pd.to_datetime(ev["value"] * 1000, unit="ms", utc=True, errors="coerce")
        ev["timestamp"] = ev["timestamp"].fillna(ev["seen"])
    else:
        gap = r.groupby([*KEY, "reason"], observed=True)["timestamp"].diff()
        start = gap.isna() | (gap > pd.Timedelta(seconds=1.5 * step_s))
        ev = r.loc[start, [*KEY, "timestamp", "reason"]].copy()
        ev["seen"] = ev["timestamp"]
    ev = ev.sort_values("seen")
    if not codes.empty:
        c = codes.sort_values("timestamp")[[*KEY, "timestamp", "value"]]
        c = c.rename(columns={"timestamp": "seen", "value": "code"})
        ev = pd.merge_asof(ev.drop(columns=["value"], errors="ignore"), c, on="seen", by=KEY,
                           direction="nearest", tolerance=pd.Timedelta(seconds=2 * step_s))
    else:
        ev["code"] = np.nan
    ev["reason"] = ev["reason"].fillna("")
    ev["kind"] = "termination"
    ev["exit_code"] = [None if pd.isna(c) else int(c) for c in ev["code"]]
    ev["oom_killed"] = ev["reason"] == "OOMKilled"
    ev["message"] = "kube_pod_container_status_last_terminated_reason"
    ev["source"] = "prometheus"
    return _event_frame(ev.drop(columns=["seen", "code", "value"], errors="ignore"))


def drop_duplicate_ooms(ooms: pd.DataFrame, terms: pd.DataFrame, step_s: float) -> pd.DataFrame:
    """One OOM kill seen twice (the cgroup counter and kube-state-metrics' ``OOMKilled``) is
    one event: counting both would double the OOM evidence a strategy sees.  The counter is
    read once a step, so it lags the termination time by up to a step (plus scrape delay)."""
    if ooms.empty or terms.empty:
        return pd.concat([e for e in (ooms, terms) if not e.empty] or [ooms], ignore_index=True)
    killed = terms[terms["oom_killed"].astype(bool)]
    tol = pd.Timedelta(seconds=max(300.0, 2 * step_s))
    pairs = ooms.reset_index(drop=True).reset_index().merge(
        killed[[*KEY, "timestamp"]], on=KEY, how="inner", suffixes=("", "_term"))
    near = (pairs["timestamp"] - pairs["timestamp_term"]).abs() <= tol
    seen = set(pairs.loc[near, "index"])
    keep = [i not in seen for i in range(len(ooms))]
    return pd.concat([ooms.reset_index(drop=True)[keep], terms], ignore_index=True)
