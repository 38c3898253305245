"""A streaming ``quotatune import`` of a file larger than one chunk: killed with SIGKILL while
it reads or while it commits days, it leaves every day as it was or complete, never a
duplicate; the re-run completes it.  And a store written by the older whole-frame writer is
read and extended by the streaming one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quotatune.model import validate_usage
from quotatune.model.collected import Collected
from quotatune.pipelines.inputs import open_store
from quotatune.store.history import Store
from tests.conftest import ROOT

KEYS = ["namespace", "workload", "pod", "container", "timestamp"]
CONTAINERS, DAYS, STEP = 480, 8, 60
PER_DAY = CONTAINERS * 86_400 // STEP


def fleet_file(path: Path) -> Path:
    """Canonical Parquet, container by container, small row groups (several chunks/day)."""
    rng = np.random.default_rng(5)
    n = DAYS * 86_400 // STEP
    ts = pd.date_range("2026-11-02", periods=n, freq=f"{STEP}s", tz="UTC")
    writer = None
    for lo in range(0, CONTAINERS, 20):
        parts = [pd.DataFrame({
            "timestamp": ts, "namespace": f"ns{i % 3}", "workload": f"app{i}",
            "pod": f"app{i}-5d8f7c9b6f-x2k9q", "container": "app",
            "cpu_cores": rng.gamma(2.0, 0.1, n), "memory_working_set_bytes":
            np.floor(rng.normal(3e8, 1e7, n)),
        }) for i in range(lo, lo + 20)]
        df = pd.concat(parts, ignore_index=True)
        for c in ("namespace", "workload", "pod", "container"):
            df[c] = df[c].astype("category")
        table = pa.Table.from_pandas(df, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=200_000)
    assert writer is not None
    writer.close()
    return path


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fleet_file(tmp_path_factory.mktemp("fleet") / "fleet.parquet")


def start_import(src: Path, root: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTATUNE_")}
    return subprocess.Popen([sys.executable, "-m", "quotatune", "import", str(src),
                             "--store", str(root)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used: a point inside its work that does not depend
    on how fast or loaded the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def committed_since(root: Path, t0: float) -> int:
    return sum(1 for m in root.glob("usage/day=*/manifest.json") if m.stat().st_mtime > t0)


def seed_store(root: Path, src: Path) -> pd.DataFrame:
    """The store before the import: the first 500 samples of every container of day 3."""
    day = pq.read_table(src).to_pandas()
    day = day[day["timestamp"].dt.strftime("%Y-%m-%d") == "2026-11-04"]
    day = day.groupby("workload", observed=True).head(500)
    open_store(root).append(Collected(usage=validate_usage(day, "seed", row_offset=0)))
    return Store(root).read_usage()


@pytest.mark.parametrize("when", ["while reading", "while committing days"])
def test_sigkill_mid_import_leaves_each_day_as_it_was_or_complete(
        tmp_path: Path, big_file: Path, when: str) -> None:
    root = tmp_path / "store"
    before = seed_store(root, big_file)
    t0 = time.time()
    proc = start_import(big_file, root)
    deadline = time.monotonic() + 240
    if when == "while reading":
        # Past start-up (the imports of pandas and pyarrow) and into the file, before any
        # day is committed: days are committed only once every chunk has been read.
        while proc.poll() is None and committed_since(root, t0) == 0 \
                and cpu_seconds(proc.pid) < 2.5 and time.monotonic() < deadline:
            time.sleep(0.01)
    else:
        while committed_since(root, t0) < 2 and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.01)
    killed = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert killed, "the import finished before it could be killed; use a larger file"

    after = Store(root).read_usage()
    assert not after.duplicated(KEYS).any()
    kept = before.merge(after, on=KEYS, how="left", indicator=True)
    assert (kept["_merge"] == "both").all()
    per_day = after.groupby(after["timestamp"].dt.strftime("%Y-%m-%d")).size()
    old_per_day = before.groupby(before["timestamp"].dt.strftime("%Y-%m-%d")).size()
    for day, rows in per_day.items():
        assert rows in {PER_DAY, old_per_day.get(day, 0)}, (day, rows)
    if committed_since(root, t0) == 0:
        assert len(after) == len(before)  # nothing is committed before every chunk is read
    if when == "while committing days":
        assert (per_day == PER_DAY).sum() >= 2

    rerun = start_import(big_file, root)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    final = Store(root).read_usage()
    assert len(final) == DAYS * PER_DAY
    assert not final.duplicated(KEYS).any()
    assert f"{DAYS * PER_DAY - len(after)} new sample(s), {len(after)} already stored" in out
    # The killed run's spill files are removed by the next writer; no temporary file is left.
    assert not (root / "staging").exists() or not list((root / "staging").iterdir())
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def write_day_the_old_way(root: Path, day: str, usage: pd.DataFrame) -> None:
    """A day as the whole-frame writer stored it: text names via pandas, its metadata, and a
    manifest without a rollup (the rollup is then computed when read)."""
    d = root / "usage" / f"day={day}"
    d.mkdir(parents=True)
    usage.to_parquet(d / "data-0123456789ab.parquet", index=False, compression="zstd")
    (d / "manifest.json").write_text(
        f'{{"data": "data-0123456789ab.parquet", "rows": {len(usage)}}}')


def test_a_store_written_by_the_whole_frame_writer_is_read_and_extended(
        tmp_path: Path) -> None:
    ts = pd.date_range("2026-11-20", periods=1440, freq="1min", tz="UTC")
    old = validate_usage(pd.DataFrame({
        "timestamp": ts, "namespace": "shop", "workload": "web", "pod": "web-1",
        "container": "app", "cpu_cores": 0.25, "memory_working_set_bytes": 2.0**28,
    }), "old")
    write_day_the_old_way(tmp_path, "2026-11-20", old)
    st = open_store(tmp_path)
    assert st.read_rollups() is not None and int(st.read_rollups()["n"].sum()) == 1440
    # A re-import of half the old day plus a new container: only the new samples are added.
    new = pd.concat([old.iloc[:720], old.assign(container="sidecar")], ignore_index=True)
    for c in ("namespace", "workload", "pod", "container"):
        new[c] = new[c].astype("category")
    rep = st.append(Collected(usage=new))
    assert (rep.samples_added, rep.samples_duplicate) == (1440, 720)
    back = st.read_usage()
    assert len(back) == 2880 and not back.duplicated(KEYS).any()
    assert back["namespace"].dtype == old["namespace"].dtype  # text, as before
    # Sorted as the whole-frame writer sorted: by name, then container, pod and time.
    assert list(back["container"].iloc[[0, -1]]) == ["app", "sidecar"]
    assert st.read_rollups() is not None and int(st.read_rollups()["n"].sum()) == 2880
