"""``recommend --from`` with a strategy that sizes containers as a whole folds the pods of
each container's day as the chunks arrive, so a CronJob's pods (one rollup row each) never
pile up: the rollups are one row per container and day, and the recommendations are the
ones the per-pod rows give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quotatune.analysis.recommend import recommend_from_rollups, rollup_columns
from quotatune.model import Target
from quotatune.pipelines import streaming
from quotatune.pipelines.streaming import rollups_from_files
from quotatune.rollup.namehash import pod_hashes

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


def test_a_chunk_of_more_pods_than_are_folded_at_once_folds_in_parts(tmp_path: Path) -> None:
    """One file, one chunk, 2 x 30,000 pods: rolled up and folded a part of its pods at a
    time (``FOLD_ROWS``), with the answers of the per-pod rows."""
    files = [cron_export(tmp_path / "big.parquet", 0, 30_000, 7)]
    assert 2 * 30_000 > streaming.FOLD_ROWS
    columns = rollup_columns(None)
    per_pod = rollups_from_files(files, None, Target(), now=NOW, columns=columns)
    folded = rollups_from_files(files, None, Target(), now=NOW, columns=columns, fold=True)
    assert folded.samples == per_pod.samples == 4 * 30_000
    want = recommend_from_rollups(per_pod.rollups, per_pod.specs, per_pod.events)
    got = recommend_from_rollups(folded.rollups, folded.specs, folded.events)
    assert [r.to_dict() for r in got] == [r.to_dict() for r in want]


def web_csv(path: Path, rows: list[tuple[str, str, float]], filler: int = 0) -> Path:
    """Samples of pods of shop/web/app (pod, time, memory limit), after ``filler`` one-sample
    pods of another container."""
    frames = [pd.DataFrame({
        "timestamp": "2026-11-02T09:00:00Z", "namespace": "batch", "workload": "cron",
        "pod": [f"cron-{i}" for i in range(filler)], "container": "main", "cpu_cores": 0.1,
        "memory_working_set_bytes": 1e8, "memory_limit_bytes": 1e9})] if filler else []
    frames.append(pd.DataFrame({
        "timestamp": [t for _, t, _ in rows], "namespace": "shop", "workload": "web",
        "pod": [p for p, _, _ in rows], "container": "app", "cpu_cores": 0.1,
        "memory_working_set_bytes": 1e8, "memory_limit_bytes": [m for _, _, m in rows]}))
    pd.concat(frames).to_csv(path, index=False)
    return path


def web_limit(files: list[Path], *, fold: bool) -> float:
    got = rollups_from_files(files, None, Target.parse("shop/web"), now=NOW,
                             columns=rollup_columns("tail"), fold=fold)
    [rec] = recommend_from_rollups(got.rollups, got.specs, got.events, strategy="tail")
    return rec.to_dict()["current"]["memory_limit_mib"]


def test_a_pod_whose_later_samples_name_no_limit_keeps_its_limit_across_files(
        tmp_path: Path) -> None:
    """web-a, the pod seen last, said 1 GiB at 10:00 and nothing at 12:00; web-b's 2 GiB at
    11:00 is an older pod's, in whichever file it comes."""
    files = [web_csv(tmp_path / "1.csv", [("web-a", "2026-11-02T10:00:00Z", 2.0**30)]),
             web_csv(tmp_path / "2.csv", [("web-b", "2026-11-02T11:00:00Z", 2.0**31)]),
             web_csv(tmp_path / "3.csv", [("web-a", "2026-11-02T12:00:00Z", np.nan)])]
    assert web_limit(files, fold=False) == 1024
    assert web_limit(files, fold=True) == 1024
    assert web_limit([*files, files[1]], fold=True) == 1024  # read again exactly: overlaps


def store_limit(files: list[Path], root: Path) -> float:
    from quotatune.pipelines.importing import import_into_store
    from quotatune.pipelines.recommend import from_store

    import_into_store(files, None, root, None)
    [rec], _ = from_store(root, Target.parse("shop/web"), "tail")
    return float(rec.to_dict()["current"]["memory_limit_mib"])


def test_pods_last_seen_at_the_same_time_give_one_pods_limit_however_read(
        tmp_path: Path) -> None:
    """web-a and web-b both last seen at 10:00: the pod whose names hash larger gives the
    limit, whether the files are read whole or folded, in either order, with 50,001 other
    pods before them folding the stream in between, read again exactly (an overlap), or
    imported into the store (which sorts each day by name)."""
    pods = pd.DataFrame({"namespace": "shop", "workload": "web", "pod": ["web-a", "web-b"],
                         "container": "app"})
    want = {0: 1024, 1: 2048}[int(np.argmax(pod_hashes(pods)))]
    files = [web_csv(tmp_path / "1.csv", [("web-a", "2026-11-02T10:00:00Z", 2.0**30),
                                          ("web-c", "2026-11-02T11:00:00Z", np.nan)],
                     filler=50_001),
             web_csv(tmp_path / "2.csv", [("web-b", "2026-11-02T10:00:00Z", 2.0**31)])]
    for order in (files, files[::-1], [*files, files[1]]):
        assert web_limit(order, fold=False) == want
        assert web_limit(order, fold=True) == want
    assert store_limit(files, tmp_path / "s1") == store_limit(files[::-1], tmp_path / "s2") \
        == want
    # web-b listed first, its last sample in a later file.
    split = [web_csv(tmp_path / "3.csv", [("web-b", "2026-11-02T09:30:00Z", 2.0**31),
                                          ("web-a", "2026-11-02T10:00:00Z", 2.0**30)]),
             web_csv(tmp_path / "4.csv", [("web-b", "2026-11-02T10:00:00Z", 2.0**31)])]
    for order in (split, split[::-1], [*split, split[1]]):
        assert web_limit(order, fold=False) == want
        assert web_limit(order, fold=True) == want
    assert store_limit(split, tmp_path / "s3") == want


def test_pieces_fold_into_what_is_held_in_batches_as_one_fold_of_all(tmp_path: Path) -> None:
    """What is held (folded already) with small pieces and a piece of more rows than are
    folded at once: folded a batch at a time, the rows one fold of everything gives."""
    from quotatune.rollup.flat import FlatRows
    from quotatune.rollup.merge import fold_pods, fold_rows
    from quotatune.rollup.sketch import daily_rollup

    usage = pd.read_parquet(cron_export(tmp_path / "c.parquet", 0, 36_000, 3))
    cut = [0, 4_000, 5_000, 6_000, 7_000, len(usage)]
    pieces = [daily_rollup(usage.iloc[a:b]) for a, b in zip(cut[:-1], cut[1:], strict=True)]
    assert len(pieces[-1]) > streaming.FOLD_ROWS
    held = fold_rows(FlatRows.of(pieces[0]))
    folded = streaming._fold_into(held, [FlatRows.of(p) for p in pieces[1:]])
    want = fold_pods(pd.concat(pieces, ignore_index=True))
    assert folded is not None and len(folded) == len(want) < len(held) + 50
    got = folded.framed()
    key = ["namespace", "workload", "container", "day"]
    got, want = (f.sort_values(key).reset_index(drop=True) for f in (got, want))
    pd.testing.assert_frame_equal(got[key + ["n", "cpu_sum", "mem_max", "t_last"]],
                                  want[key + ["n", "cpu_sum", "mem_max", "t_last"]],
                                  check_exact=False, rtol=1e-12)
    for col in ("cpu_b", "cpu_c", "mem_b", "mem_c"):
        assert all(np.array_equal(a, b) for a, b in zip(got[col], want[col], strict=True))
    assert streaming._fold_into(None, []) is None


def long_lived_usage(pods: int = 6, days: int = 2) -> pd.DataFrame:
    """Pods of one container running whole days, a sample a minute: hundreds of buckets a
    rollup row."""
    rng = np.random.default_rng(4)
    t = pd.date_range("2026-11-01", periods=days * 1440, freq="1min", tz="UTC")
    return pd.concat([pd.DataFrame({
        "timestamp": t, "namespace": "shop", "workload": "web", "pod": f"web-{p}",
        "container": "app", "cpu_cores": rng.gamma(2.0, 0.2, len(t)),
        "memory_working_set_bytes": rng.normal(4e8, 5e7, len(t)).clip(1),
        "memory_limit_bytes": 1e9}) for p in range(pods)], ignore_index=True)


@pytest.mark.parametrize(("shape", "flat"), [("cronjob", True), ("long-lived", False)])
def test_folding_holds_short_lists_flat_and_long_ones_as_arrays_with_one_result(
        tmp_path: Path, shape: str, flat: bool) -> None:
    """A stream's pieces fold flat when their lists are short (a CronJob's pods), as frames
    of arrays when long (whole days of samples); either way the folded rows are one fold of
    every piece's rollup."""
    from quotatune.model import validate_usage
    from quotatune.rollup.currents import PodCurrents
    from quotatune.rollup.merge import fold_pods
    from quotatune.rollup.sketch import daily_rollup

    raw = (pd.read_parquet(cron_export(tmp_path / "c.parquet", 0, 3_000, 5))
           if shape == "cronjob" else long_lived_usage())
    usage = validate_usage(raw, "test")
    cuts = np.linspace(0, len(usage), 5).astype(int)  # pods cut across pieces
    held = streaming._Held(rollup_columns(None), PodCurrents())
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        held.add(usage.iloc[a:b], None)
    assert held.flat is flat
    got = held.result()
    want = fold_pods(pd.concat([daily_rollup(usage.iloc[a:b], rollup_columns(None))
                                for a, b in zip(cuts[:-1], cuts[1:], strict=True)],
                               ignore_index=True))
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for col in ("n", "cpu_sum", "cpu_max", "mem_max", "t_first", "t_last"):
        assert got[col].tolist() == want[col].tolist(), col
    for col in ("mem_hour_max", "cpu_b", "cpu_c"):
        assert all(np.array_equal(x, y, equal_nan=True)
                   for x, y in zip(got[col], want[col], strict=True)), col
