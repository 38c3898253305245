"""``recommend --from`` with a strategy that sizes containers as a whole folds the pods of
each container's day as the chunks arrive, so a CronJob's pods (one rollup row each) never
pile up: the rollups are one row per container and day, and the recommendations are the
ones the per-pod rows give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quotatune.analysis.recommend import recommend_from_rollups, rollup_columns
from quotatune.model import Target
from quotatune.pipelines.streaming import rollups_from_files

NOW = pd.Timestamp("2026-12-01T00:00:00Z")
MIB = float(1 << 20)


def cron_export(path: Path, first_run: int, runs: int, seed: int) -> Path:
    """Two CronJobs, a pod of two 30-second samples a minute each, runs in time order; one
    job's limit is raised halfway, the other's pods name none after a while."""
    rng = np.random.default_rng(seed)
    minute = np.arange(first_run, first_run + runs)
    frames = []
    for job, limit in (("a", np.where(minute < 30_000, 256 * MIB, 512 * MIB)),
                       ("b", np.where(minute < 20_000, 128 * MIB, np.nan))):
        frames.append(pd.DataFrame({
            "timestamp": np.repeat(pd.Timestamp("2026-11-01", tz="UTC")
                                   + pd.to_timedelta(minute, unit="min"), 2)
            + np.tile(pd.to_timedelta([0, 30], unit="s"), runs),
            "namespace": "batch", "workload": job,
            "pod": np.repeat([f"{job}-{m}-x2k9q" for m in minute], 2), "container": "main",
            "cpu_cores": rng.gamma(2.0, 0.1, 2 * runs),
            "memory_working_set_bytes": rng.integers(50, 120, 2 * runs) * MIB,
            "memory_limit_bytes": np.repeat(limit, 2),
        }))
    pd.concat(frames, ignore_index=True).to_parquet(path)
    return path


def test_cronjob_pods_fold_as_they_stream_with_the_per_pod_answers(tmp_path: Path) -> None:
    # 3 files x 2 jobs x 12,000 pods: past the 50,000 rows that are folded mid-stream.
    files = [cron_export(tmp_path / f"{i}.parquet", i * 12_000, 12_000, i) for i in range(3)]
    columns = rollup_columns(None)
    per_pod = rollups_from_files(files, None, Target(), now=NOW, columns=columns)
    folded = rollups_from_files(files, None, Target(), now=NOW, columns=columns, fold=True)
    assert len(per_pod.rollups) == 2 * 36_000
    days = per_pod.rollups["day"].nunique()
    assert len(folded.rollups) == 2 * days
    assert list(folded.rollups.columns) == list(per_pod.rollups.columns)
    assert folded.samples == per_pod.samples == 4 * 36_000
    want = recommend_from_rollups(per_pod.rollups, per_pod.specs, per_pod.events)
    got = recommend_from_rollups(folded.rollups, folded.specs, folded.events)
    assert [r.to_dict() for r in got] == [r.to_dict() for r in want]
    # a's limit raised, b's last known one: as the newest pods with one say
    assert [r.to_dict()["current"]["memory_limit_mib"] for r in got] == [512, 128]
