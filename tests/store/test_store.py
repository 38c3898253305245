"""The history store never loses or duplicates samples: re-imports, overlapping runs, a run
killed with SIGKILL mid-append, a full disk and a read-only store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from quotatune.model import Target, validate_usage
from quotatune.model.collected import Collected
from quotatune.rollup.sketch import daily_rollup
from quotatune.store.files import write_parquet
from quotatune.store.history import Store, StoreError
from tests.conftest import ROOT


def usage(containers: int, minutes: int, start: str = "2026-11-20T00:00:00Z",
          seed: int = 0, ns: str = "shop") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=minutes, freq="1min")
    frames = []
    for i in range(containers):
        frames.append(pd.DataFrame({
            "timestamp": ts, "namespace": ns, "workload": f"app{i}", "pod": f"app{i}-0",
            "container": "main", "cpu_cores": rng.gamma(2.0, 0.1, minutes),
            "memory_working_set_bytes": rng.normal(300e6, 10e6, minutes).clip(1),
        }))
    return validate_usage(pd.concat(frames, ignore_index=True), "test")


def stored_keys(st: Store) -> pd.DataFrame:
    return st.read_usage()[["namespace", "workload", "pod", "container", "timestamp"]]


def test_round_trip_keeps_every_sample_and_value(tmp_path: Path) -> None:
    u = usage(3, 3000)  # spans three days
    st = Store(tmp_path)
    rep = st.append(Collected(usage=u))
    assert rep.samples_added == len(u)
    assert rep.days_written == ["2026-11-20", "2026-11-21", "2026-11-22"]
    back = st.read_usage().sort_values(["workload", "timestamp"]).reset_index(drop=True)
    want = u.sort_values(["workload", "timestamp"]).reset_index(drop=True)
    assert (back["timestamp"] == want["timestamp"]).all()
    np.testing.assert_array_equal(back["cpu_cores"], want["cpu_cores"])
    np.testing.assert_array_equal(
        back["memory_working_set_bytes"], want["memory_working_set_bytes"]
    )


def test_a_multi_day_import_is_reported_and_progressed_in_day_order(tmp_path: Path) -> None:
    u = usage(2, 6 * 1440)  # six days
    st = Store(tmp_path)
    steps: list[tuple[int, int]] = []
    rep = st.append_stream([Collected(usage=u)], on_day=lambda done, total: steps.append(
        (done, total)))
    days = [f"2026-11-{d}" for d in range(20, 26)]
    assert rep.days_written == days
    assert steps == [(i, 6) for i in range(7)]
    assert rep.samples_added == len(u) and rep.samples_duplicate == 0
    assert st.days() == days
    assert len(st.read_usage()) == len(u)
    again = st.append_stream([Collected(usage=u.iloc[::2])])
    assert again.samples_added == 0 and again.samples_duplicate == len(u.iloc[::2])


def test_importing_the_same_samples_twice_adds_nothing(tmp_path: Path) -> None:
    u = usage(2, 2000)
    st = Store(tmp_path)
    st.append(Collected(usage=u))
    again = st.append(Collected(usage=u))
    assert again.samples_added == 0
    assert again.samples_duplicate == len(u)
    assert again.days_written == []
    assert len(st.read_usage()) == len(u)


def test_overlapping_batches_store_the_union_once(tmp_path: Path) -> None:
    u = usage(2, 2000)
    st = Store(tmp_path)
    st.append(Collected(usage=u.iloc[:1500]))
    rep = st.append(Collected(usage=u.iloc[1000:]))
    assert rep.samples_added == len(u) - 1500
    assert not stored_keys(st).duplicated().any()
    assert len(st.read_usage()) == len(u)


def test_reads_select_target_and_time_window(tmp_path: Path) -> None:
    st = Store(tmp_path)
    st.append(Collected(usage=usage(3, 2880)))
    one = st.read_usage(Target.parse("shop/app1"))
    assert set(one["workload"]) == {"app1"} and len(one) == 2880
    since = pd.Timestamp("2026-11-21T00:00:00Z")
    assert st.read_usage(since=since)["timestamp"].min() == since


def test_specs_keep_the_latest_row_and_events_are_not_duplicated(tmp_path: Path) -> None:
    st = Store(tmp_path)
    spec = pd.DataFrame([{"namespace": "shop", "workload": "web", "pod": "web-1",
                          "container": "app", "memory_limit_bytes": 1.0,
                          "env_names": ("A", "B")}])
    st.append(Collected(specs=spec))
    st.append(Collected(specs=spec.assign(memory_limit_bytes=2.0)))
    specs = st.read_specs()
    assert len(specs) == 1 and specs["memory_limit_bytes"].iloc[0] == 2.0
    assert tuple(specs["env_names"].iloc[0]) == ("A", "B")
    ev = pd.DataFrame([{"timestamp": pd.Timestamp("2026-11-20T10:00:00Z"), "namespace": "shop",
                        "workload": "web", "pod": "web-1", "container": "app",
                        "kind": "termination", "reason": "OOMKilled", "exit_code": 137,
                        "oom_killed": True, "message": "", "source": "test"}])
    assert st.append(Collected(events=ev)).events_added == 1
    assert st.append(Collected(events=ev)).events_added == 0
    assert len(st.read_events()) == 1


def test_retention_drops_old_days_only(tmp_path: Path) -> None:
    st = Store(tmp_path)
    st.append(Collected(usage=usage(1, 5 * 1440)))
    dropped = st.apply_retention(2, pd.Timestamp("2026-11-24T12:00:00Z"))
    assert dropped == 2
    assert st.days() == ["2026-11-22", "2026-11-23", "2026-11-24"]


def test_a_second_writer_waits_for_the_lock_then_gives_up_clearly(tmp_path: Path) -> None:
    st = Store(tmp_path, lock_timeout=0.3)
    with st.lock(), pytest.raises(StoreError, match="locked by another run"):
        Store(tmp_path, lock_timeout=0.3).append(Collected(usage=usage(1, 10)))


_WRITER = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd
    from quotatune.model.collected import Collected
    from quotatune.model import validate_usage
    from quotatune.store.history import Store
    seed, ns = int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2026-11-20T00:00:00Z", periods=4 * 1440, freq="1min")
    df = pd.DataFrame({"timestamp": np.tile(ts, 40), "namespace": ns,
                       "workload": np.repeat([f"w{i}" for i in range(40)], len(ts)),
                       "pod": "p", "container": "c",
                       "cpu_cores": rng.random(40 * len(ts)),
                       "memory_working_set_bytes": rng.random(40 * len(ts)) * 1e9})
    Store(sys.argv[1]).append(Collected(usage=validate_usage(df, "w")))
    print("done", flush=True)
""")


def _writer(root: Path, seed: int, ns: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(seed), ns],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_overlapping_runs_both_land_without_duplicates(tmp_path: Path) -> None:
    procs = [_writer(tmp_path, 1, "a"), _writer(tmp_path, 2, "b"), _writer(tmp_path, 1, "a")]
    for p in procs:
        out, errtext = p.communicate(timeout=300)
        assert p.returncode == 0, errtext
    u = Store(tmp_path).read_usage()
    assert len(u) == 2 * 40 * 4 * 1440
    assert not u.duplicated(["namespace", "workload", "pod", "container", "timestamp"]).any()


@pytest.mark.parametrize("delay", [0.5, 1.2, 2.0, 3.0])
def test_sigkill_mid_append_loses_and_duplicates_nothing(tmp_path: Path, delay: float) -> None:
    st = Store(tmp_path)
    base = usage(2, 3 * 1440, start="2026-11-20T00:00:00Z", ns="a")
    st.append(Collected(usage=base))
    before = st.read_usage()
    p = _writer(tmp_path, 7, "a")  # adds 40 more workloads on overlapping days
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    after = st.read_usage()
    keys = ["namespace", "workload", "pod", "container", "timestamp"]
    # Nothing that was stored is lost, and nothing is stored twice.
    assert not after.duplicated(keys).any()
    merged = before.merge(after, on=keys, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    # Whole days only: a day holds either none or all of the killed run's rows.
    per_day = after[after["workload"].str.startswith("w")].groupby(
        after["timestamp"].dt.date).size()
    assert set(per_day.unique()) <= {40 * 1440}
    # No temporary or orphaned files are left for readers; the next run completes the job.
    rerun = _writer(tmp_path, 7, "a")
    assert rerun.wait(timeout=300) == 0
    final = st.read_usage()
    assert len(final) == len(before) + 40 * 4 * 1440
    assert not final.duplicated(keys).any()
    leftovers = [f for d in (tmp_path / "usage").iterdir() for f in d.iterdir()
                 if f.name.endswith(".tmp")]
    assert leftovers == []


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.fixture
def small_fs(tmp_path: Path):
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "600k"):
        pytest.skip("needs root and tmpfs mounts to make a tiny or read-only filesystem")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_is_a_clear_error_and_the_store_still_reads_back(small_fs: Path) -> None:
    st = Store(small_fs)
    first = usage(1, 600)
    st.append(Collected(usage=first))
    with pytest.raises(StoreError, match="cannot write"):
        st.append(Collected(usage=usage(400, 1440, seed=3, ns="big")))
    back = st.read_usage()
    assert len(back) == len(first)
    assert not any(p.name.endswith(".tmp") for p in small_fs.rglob("*"))


def test_a_disk_that_fills_during_a_multi_day_import_leaves_every_day_whole(
        small_fs: Path) -> None:
    st = Store(small_fs)
    before = usage(1, 600, start="2026-11-19T00:00:00Z")
    st.append(Collected(usage=before))
    small = [usage(3, 1440, start=f"2026-11-{d}T00:00:00Z", seed=d) for d in (20, 21)]
    big = usage(400, 1440, start="2026-11-22T00:00:00Z", seed=3, ns="big")
    with pytest.raises(StoreError, match="cannot write"):
        st.append(Collected(usage=pd.concat([*small, big], ignore_index=True)))
    per_day = st.read_usage()["timestamp"].dt.strftime("%Y-%m-%d").value_counts().to_dict()
    whole = {"2026-11-19": len(before), "2026-11-20": len(small[0]),
             "2026-11-21": len(small[1]), "2026-11-22": len(big)}
    # Each day is there whole or not at all; the day that did not fit is not there.
    assert {day: whole[day] for day in per_day} == per_day
    assert "2026-11-19" in per_day and "2026-11-22" not in per_day
    assert not any(p.name.endswith(".tmp") for p in small_fs.rglob("*"))


def test_a_day_being_written_is_committed_whole_when_the_next_day_fails(
        tmp_path: Path) -> None:
    """A small day's samples are still being written while the next day is read and merged
    (docs/architecture.md, "The store"): when that next day cannot be read, the day before it
    is committed whole all the same, and the error names the unreadable file."""
    st = Store(tmp_path)
    st.append(Collected(usage=usage(1, 60, start="2026-11-21T00:00:00Z")))
    stored = next((tmp_path / "usage" / "day=2026-11-21").glob("data-*.parquet"))
    stored.write_bytes(b"not parquet")
    new = usage(2, 2 * 1440, start="2026-11-20T00:00:00Z", seed=4)
    with pytest.raises(StoreError, match="unreadable store file"):
        st.append(Collected(usage=new))
    day = st.read_usage(until=pd.Timestamp("2026-11-20T23:59:59Z"))
    assert len(day) == 2 * 1440
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "usage" / "day=2026-11-20")
                  .iterdir()) == ["data", "manifest.json"]


def test_a_read_only_store_is_a_clear_error_and_keeps_its_data(small_fs: Path) -> None:
    st = Store(small_fs)
    st.append(Collected(usage=usage(1, 600)))
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    with pytest.raises(StoreError):
        st.append(Collected(usage=usage(1, 600, seed=9, ns="other")))
    assert len(st.read_usage()) == 600


def test_store_files_are_never_group_or_world_writable_or_readable(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        st = Store(tmp_path)
        st.append(Collected(usage=usage(1, 100)))
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for p in files:
        assert p.stat().st_mode & 0o077 == 0, p


def test_a_rollup_written_as_typed_is_the_file_the_checked_writer_makes(tmp_path: Path) -> None:
    # The store skips parquet_safe's look at every value for its rollups: their histograms
    # and hourly peaks (NaN where an hour had no sample) come out as the checked path has them.
    u = usage(3, 200)
    u = u[~((u["workload"] == "app1") & (u.index % 7 == 0))]  # gaps: hours without a peak
    rollup = daily_rollup(u)
    write_parquet(rollup, tmp_path / "checked.parquet")
    write_parquet(rollup, tmp_path / "typed.parquet", typed=True)
    checked = pq.read_table(tmp_path / "checked.parquet")
    typed = pq.read_table(tmp_path / "typed.parquet")
    assert typed.equals(checked, check_metadata=True)
    assert pc.list_flatten(typed.column("mem_hour_max")).null_count > 0
