"""VPA from the store reads its CPU histograms folded per container and day and its pods
as rows of scalars, with hourly peaks only for the pods of OOM-killed containers: a
CronJob's pods then cost a few numbers each.  The answers are the ones the full per-pod
rollups give, kills and their bumps included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quotatune.analysis.recommend import recommend_from_rollups, rollup_columns
from quotatune.model import Target, validate_usage
from quotatune.model.collected import Collected
from quotatune.pipelines.inputs import open_store, pod_rows
from quotatune.pipelines.recommend import from_store
from quotatune.rollup import sketch

MIB = 1 << 20
T = pd.Timestamp("2026-11-20T00:00:00Z")


def usage() -> pd.DataFrame:
    """Three days of a CronJob (a pod of three minutes every 10) and a Deployment that
    rolls to a new pod each day."""
    rng = np.random.default_rng(8)
    runs = 3 * 144
    cron_t = T + pd.to_timedelta(np.repeat(np.arange(runs) * 10, 3)
                                 + np.tile(np.arange(3), runs), unit="min")
    minutes = T + pd.to_timedelta(np.arange(3 * 1440), unit="min")
    return validate_usage(pd.concat([
        pd.DataFrame({"timestamp": cron_t, "namespace": "batch", "workload": "report",
                      "container": "job", "pod": [f"report-{i // 3}" for i in range(len(cron_t))],
                      "cpu_cores": rng.gamma(2.0, 0.2, len(cron_t)),
                      "memory_working_set_bytes": rng.integers(100, 400, len(cron_t)) * MIB * 1.0,
                      "memory_request_bytes": 256.0 * MIB, "memory_limit_bytes": 512.0 * MIB}),
        pd.DataFrame({"timestamp": minutes, "namespace": "shop", "workload": "web",
                      "container": "app", "pod": [f"web-{m // 1440}" for m in range(len(minutes))],
                      "cpu_cores": rng.gamma(2.0, 0.05, len(minutes)),
                      "memory_working_set_bytes": rng.normal(600, 20, len(minutes)) * MIB,
                      "memory_limit_bytes": 1024.0 * MIB}),
    ], ignore_index=True), "test")


def kills() -> pd.DataFrame:
    at = [T + pd.Timedelta(hours=h) for h in (5.02, 30.01, 30.02, 50)]
    return pd.DataFrame({"timestamp": at, "namespace": ["batch", "batch", "batch", "shop"],
                         "workload": ["report", "report", "report", "web"],
                         "pod": ["report-30", "report-180", "report-180", "web-2"],
                         "container": ["job", "job", "job", "app"],
                         "reason": "OOMKilled", "oom_killed": True})


def test_vpa_from_pod_scalars_gives_the_per_pod_rollups_answers(tmp_path: Path) -> None:
    root = tmp_path / "store"
    st = open_store(root)
    st.append(Collected(usage=usage(), events=kills()))
    per_pod = st.read_rollups(columns=rollup_columns("vpa"))
    assert per_pod is not None and len(per_pod) > 3 * 144
    want = recommend_from_rollups(per_pod, st.read_specs(), st.read_events(), strategy="vpa")
    got, _ = from_store(root, Target(), "vpa")
    assert [r.to_dict() for r in got] == [r.to_dict() for r in want]
    assert any("OOM kill" in line for r in got for line in r.reasons)


def test_only_killed_containers_pods_bring_their_hours(tmp_path: Path) -> None:
    root = tmp_path / "store"
    st = open_store(root)
    st.append(Collected(usage=usage(), events=kills().iloc[3:]))  # web's kill only
    rows = pod_rows(st, None, st.read_events())
    assert rows is not None and "cpu_b" not in rows.columns
    real = rows["mem_hour_max"].map(lambda h: bool(np.isfinite(h).any()))
    assert set(rows.loc[real, "workload"]) == {"web"}
    assert real.sum() == 3  # web's three pods, one a day
    assert (rows.loc[~real, "mem_hour_max"].map(lambda h: h is sketch.NO_HOURS)).all()
