"""Targeted and projected reads: a day is stored sorted in small row groups, so a read for one
target decodes only the row groups that can hold it; a store written before that (one big
row group, or an older rollup version) reads the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quotatune.model import ContainerKey, Target, validate_usage
from quotatune.model.collected import Collected
from quotatune.pipelines.inputs import open_store
from quotatune.store import reads


def fleet(namespaces: int, workloads: int, minutes: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2026-11-20T00:00:00Z", periods=minutes, freq="1min")
    frames = [pd.DataFrame({
        "timestamp": ts, "namespace": f"ns{n}", "workload": f"app{w}", "pod": f"app{w}-0",
        "container": "main", "cpu_cores": rng.gamma(2.0, 0.1, minutes),
        "memory_working_set_bytes": rng.normal(300e6, 10e6, minutes).clip(1),
    }) for n in range(namespaces) for w in range(workloads)]
    return validate_usage(pd.concat(frames, ignore_index=True), "test")


def day_file(root: Path, what: str = "data") -> Path:
    d = next((root / "usage").iterdir())
    return d / json.loads((d / "manifest.json").read_text())[what]


def test_a_day_is_sorted_in_row_groups_a_target_read_mostly_skips(tmp_path):
    u = fleet(20, 10, 24 * 60)  # 200 containers, one day: 288,000 samples
    open_store(tmp_path).append(Collected(usage=u))
    meta = pq.ParquetFile(day_file(tmp_path)).metadata
    assert meta.num_row_groups == -(-len(u) // reads.ROW_GROUP_ROWS)
    ns_col = meta.schema.names.index("namespace")
    ranges = [(meta.row_group(i).column(ns_col).statistics.min,
               meta.row_group(i).column(ns_col).statistics.max)
              for i in range(meta.num_row_groups)]
    holding = [r for r in ranges if r[0] <= "ns7" <= r[1]]
    assert 1 <= len(holding) <= 2  # of five: the others are skipped by their statistics


def test_a_day_keeps_statistics_where_filtered_reads_look_and_not_on_the_numbers(tmp_path):
    u = fleet(2, 2, 60)
    open_store(tmp_path).append(Collected(usage=u))
    group = pq.ParquetFile(day_file(tmp_path)).metadata.row_group(0)
    with_stats = {group.column(i).path_in_schema for i in range(group.num_columns)
                  if group.column(i).is_stats_set}
    assert with_stats == {"timestamp", "namespace", "workload", "pod", "container"}
    since = pd.Timestamp("2026-11-20T00:30:00Z")
    back = open_store(tmp_path).read_usage(since=since)
    assert len(back) == 4 * 30 and back["timestamp"].min() == since


def test_a_target_read_decodes_only_the_row_groups_its_statistics_allow(tmp_path):
    """Shown by damaging a row group the target is not in: a whole read fails on it, the
    target's read never touches it.  (Read as dictionaries, the names' text statistics were
    not used: every row group was decoded, 0.4 s a day of 10,000 containers for one
    workload.)"""
    u = fleet(20, 10, 24 * 60)
    open_store(tmp_path).append(Collected(usage=u))
    path = day_file(tmp_path)
    meta = pq.ParquetFile(path).metadata
    first = meta.row_group(0)  # ns0, ns1, ns10 .. ns12: names sort as text, ns7 is later
    chunk = first.column(meta.schema.names.index("cpu_cores"))
    data = bytearray(path.read_bytes())
    at, size = chunk.data_page_offset, chunk.total_compressed_size
    data[at + size // 4:at + size // 2] = b"\xff" * (size // 2 - size // 4)
    path.write_bytes(bytes(data))
    with pytest.raises(Exception):  # noqa: B017 - whatever pyarrow calls the damage
        reads.read_table(path, ["cpu_cores"], None)
    for where in ([("namespace", "=", "ns7")], reads.target_filter(Target.parse("ns7/"))):
        got = reads.read_table(path, ["namespace", "cpu_cores"], where)
        want = u[u["namespace"] == "ns7"]
        assert got.num_rows == len(want) == 10 * 24 * 60
        assert sorted(got.column("cpu_cores").to_pylist()) == sorted(want["cpu_cores"])


def test_scan_returns_only_the_target_and_the_columns_asked(tmp_path):
    u = fleet(3, 4, 3000)
    st = open_store(tmp_path)
    st.append(Collected(usage=u))
    days = list(st.scan_usage(["namespace", "workload", "cpu_cores"],
                              target=Target.parse("ns1/app2")))
    assert [d for d, _ in days] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    got = pd.concat([df for _, df in days], ignore_index=True)
    assert list(got.columns) == ["namespace", "workload", "cpu_cores"]
    want = u[(u["namespace"] == "ns1") & (u["workload"] == "app2")]
    assert len(got) == len(want)
    assert sorted(got["cpu_cores"]) == sorted(want["cpu_cores"])


def test_scan_by_keys_and_time(tmp_path):
    u = fleet(3, 4, 3000)
    st = open_store(tmp_path)
    st.append(Collected(usage=u))
    keys = [ContainerKey("ns0", "app1", "main"), ContainerKey("ns2", "app3", "main")]
    since = pd.Timestamp("2026-11-21T12:00:00Z")
    got = pd.concat([df for _, df in st.scan_usage(None, keys=keys, since=since)])
    want = u[((u["namespace"] == "ns0") & (u["workload"] == "app1")
              | (u["namespace"] == "ns2") & (u["workload"] == "app3"))
             & (u["timestamp"] >= since)]
    assert len(got) == len(want)
    assert set(zip(got["namespace"].astype(str), got["workload"].astype(str),
                   strict=True)) == {("ns0", "app1"), ("ns2", "app3")}
    assert list(st.scan_usage(None, keys=[])) == []


def test_a_store_with_one_big_row_group_and_old_rollups_reads_the_same(tmp_path):
    u = fleet(3, 4, 600)
    st = open_store(tmp_path)
    st.append(Collected(usage=u))
    target = Target.parse("ns2/app0")
    want = st.read_rollups(target=target)
    # Rewrite the day as an older version did: one row group, a rollup of another version.
    data = day_file(tmp_path)
    pq.write_table(pa.Table.from_pandas(pd.read_parquet(data), preserve_index=False), data)
    manifest = data.parent / "manifest.json"
    m = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**m, "rollup_version": "0"}))
    assert pq.ParquetFile(data).metadata.num_row_groups == 1
    got = st.read_rollups(target=target)
    assert len(got) == 1 and (got["namespace"] == "ns2").all()
    pd.testing.assert_frame_equal(got.drop(columns=["cpu_b", "cpu_c", "cpu_w", "mem_b", "mem_c",
                                                    "mem_w", "mem_hour_max"]),
                                  want.drop(columns=["cpu_b", "cpu_c", "cpu_w", "mem_b",
                                                     "mem_c", "mem_w", "mem_hour_max"]))
    scanned = pd.concat([df for _, df in st.scan_usage(None, target=target)])
    assert len(scanned) == 600


def cron_day(jobs: int, runs: int) -> pd.DataFrame:
    """A day of CronJobs: every run is a new pod that lives five minutes."""
    start = pd.Timestamp("2026-11-20T00:00:00Z")
    frames = [pd.DataFrame({
        "timestamp": start + pd.to_timedelta(r * 10 + np.arange(5), unit="min"),
        "namespace": "batch", "workload": f"cron{j}", "pod": f"cron{j}-{r}", "container": "job",
        "cpu_cores": 0.1 + j / 1000, "memory_working_set_bytes": 100e6 + r * 1e6,
    }) for j in range(jobs) for r in range(runs)]
    return validate_usage(pd.concat(frames, ignore_index=True), "test")


def test_a_day_of_many_pods_keeps_its_rollups_in_row_groups_a_target_read_skips(tmp_path):
    st = open_store(tmp_path)
    st.append(Collected(usage=cron_day(jobs=60, runs=140)))  # 8,400 pod rollup rows
    meta = pq.ParquetFile(day_file(tmp_path, "rollup")).metadata
    assert meta.num_row_groups == -(-8400 // reads.ROLLUP_ROW_GROUP_ROWS)
    everything = st.read_rollups()
    one = st.read_rollups(target=Target.parse("batch/cron7"))
    want = everything[everything["workload"] == "cron7"].reset_index(drop=True)
    assert len(one) == 140
    pd.testing.assert_frame_equal(
        one.astype({c: str for c in reads.NAME_COLUMNS if c in one}).reset_index(drop=True),
        want.astype({c: str for c in reads.NAME_COLUMNS if c in want}))


def test_a_filtered_read_names_only_the_pods_it_returns(tmp_path):
    """A filter keeps a row group's whole dictionary; the read cuts it to the rows' names, so
    one CronJob of a day of thousands of pods does not come back with them all as categories."""
    st = open_store(tmp_path)
    st.append(Collected(usage=cron_day(jobs=60, runs=140)))
    table = reads.read_table(day_file(tmp_path), ["pod", "cpu_cores"],
                             [("workload", "=", "cron7")])
    assert table.num_rows == 140 * 5
    assert sum(len(c.dictionary) for c in table.column("pod").chunks) == 140
    unfiltered = reads.read_table(day_file(tmp_path), ["pod"], None)
    assert len(unfiltered.column("pod").unique()) == 8400
