"""`quotatune prune` and `quotatune status`, run as real processes: beside an import that
holds the store, and killed with SIGKILL at several points of a prune.  Afterwards every day
is whole or gone, nothing outside the pruned range is lost, and a re-run finishes the job
(docs/architecture.md, "The store")."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.store.history import Store
from tests.conftest import ROOT, run_cli
from tests.store.test_store import usage

KEY = ["namespace", "workload", "pod", "container", "timestamp"]
NOW = "2026-11-30T12:00:00Z"
PER_DAY = 24  # hourly samples


def hourly(days: int, start: str, workload: str) -> pd.DataFrame:
    u = usage(1, days * PER_DAY, start=start, ns="shop").assign(workload=workload,
                                                                 pod=f"{workload}-0")
    u["timestamp"] = pd.date_range(start, periods=len(u), freq="1h", tz="UTC")
    return u


def long_store(root: Path) -> Store:
    """400 days of one container (``old``, gone in 2026) and 30 of another (``new``), one
    event a day for each, and both specs: enough days that a prune takes a while."""
    st = Store(root)
    old = hourly(370, "2025-10-26T00:00:00Z", "old")
    new = hourly(30, "2026-11-01T00:00:00Z", "new")
    specs = pd.DataFrame([{**{c: None for c in model.SPEC_COLUMNS}, "namespace": "shop",
                           "workload": w, "pod": f"{w}-0", "container": "main", "source": "t",
                           "command": (), "args": (), "env_names": (), "jvm_options": (),
                           "non_ascii_env": ()} for w in ("old", "new")],
                         columns=model.SPEC_COLUMNS)
    ev = pd.concat([u.iloc[::PER_DAY][["timestamp", "namespace", "workload", "pod",
                                        "container"]] for u in (old, new)], ignore_index=True)
    ev = ev.assign(kind="termination", reason="Error", exit_code=1, oom_killed=False,
                   message="", source="t")[model.EVENT_COLUMNS]
    ev["exit_code"] = ev["exit_code"].astype("Int64")
    st.append(Collected(usage=pd.concat([old, new], ignore_index=True), specs=specs, events=ev))
    return st


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "store"
    long_store(root)
    return root


def copy_of(template: Path, tmp_path: Path) -> tuple[Path, Store]:
    store = tmp_path / "store"
    shutil.copytree(template, store)
    return store, Store(store)


def prune_process(store: Path, keep_days: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTATUNE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "quotatune", "prune", "--keep-days", str(keep_days),
         "--store", str(store), "--now", NOW],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(cond: Callable[[], bool], proc: subprocess.Popen[str], limit: float = 120) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if cond():
            return True
        time.sleep(0.0005)
    return False


def whole_days(st: Store) -> pd.DataFrame:
    """Every listed day reads back complete: the day's 24 samples of each of its containers."""
    u = st.read_usage()
    per = u.groupby([u["timestamp"].dt.date, "workload"]).size()
    assert set(per.unique()) <= {PER_DAY}, per[per != PER_DAY]
    assert not u.duplicated(KEY).any()
    return u


def lock_taken(store: Path, pid: int) -> Callable[[], bool]:
    return lambda: (store / ".lock").exists() and f"pid {pid}" in (store / ".lock").read_text()


def replaced(path: Path) -> Callable[[], bool]:
    ino = path.stat().st_ino
    return lambda: path.exists() and path.stat().st_ino != ino


def first_day_gone(store: Path) -> Callable[[], bool]:
    first = store / "usage" / "day=2025-10-26" / "manifest.json"
    return lambda: not first.exists()


def some_days_gone(store: Path, n: int) -> Callable[[], bool]:
    return lambda: len(list((store / "usage").glob("day=*/manifest.json"))) <= 400 - n


POINTS = {"lock-taken": lambda s, p: lock_taken(s, p),
          "specs-rewritten": lambda s, p: replaced(s / "specs.parquet"),
          "events-rewritten": lambda s, p: replaced(s / "events.parquet"),
          "first-day-gone": lambda s, p: first_day_gone(s),
          "mid-days": lambda s, p: some_days_gone(s, 150)}


@pytest.mark.parametrize("point", list(POINTS))
def test_sigkill_during_prune_leaves_whole_days_and_a_rerun_finishes(
        template: Path, tmp_path: Path, point: str) -> None:
    store, st = copy_of(template, tmp_path)
    kept_before = st.read_usage(since=pd.Timestamp("2026-11-23T00:00:00Z"))
    p = prune_process(store, 7)
    reached = wait_for(POINTS[point](store, p.pid), p)
    with contextlib.suppress(ProcessLookupError):
        os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    if not reached:  # the prune finished before the point was seen: nothing to check
        pytest.skip(f"prune ended before {point}")
    after = whole_days(st)
    kept_after = after[after["timestamp"] >= pd.Timestamp("2026-11-23T00:00:00Z")]
    pd.testing.assert_frame_equal(kept_after.sort_values(KEY).reset_index(drop=True),
                                  kept_before.sort_values(KEY).reset_index(drop=True))
    r = run_cli("prune", "--keep-days", "7", "--store", str(store), "--now", NOW)
    assert r.code == 0, r.stderr
    assert st.days() == [f"2026-11-{d}" for d in range(23, 31)]
    assert sorted(p.name for p in (store / "usage").iterdir()) == [
        f"day=2026-11-{d}" for d in range(23, 31)]
    assert list(st.read_specs()["workload"]) == ["new"]
    assert st.read_events()["timestamp"].min() >= pd.Timestamp("2026-11-23T00:00:00Z")
    assert len(whole_days(st)) == 8 * PER_DAY


def test_prune_beside_an_import_loses_and_duplicates_nothing_outside_the_range(
        template: Path, tmp_path: Path) -> None:
    store, st = copy_of(template, tmp_path)
    csv = tmp_path / "more.csv"
    more = pd.concat([hourly(20, "2026-11-10T00:00:00Z", f"w{i}") for i in range(40)])
    more.assign(timestamp=more["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        csv, index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTATUNE_")}
    imp = subprocess.Popen([sys.executable, "-m", "quotatune", "import", str(csv), "--store",
                            str(store)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    pr = prune_process(store, 15)  # cutoff 2026-11-15: part of the import is in the range
    for proc in (imp, pr):
        _, errtext = proc.communicate(timeout=300)
        assert proc.returncode == 0, errtext
    u = whole_days(st)
    cutoff = pd.Timestamp("2026-11-15T00:00:00Z")
    want = pd.concat([hourly(30, "2026-11-01T00:00:00Z", "new"), more])
    want = want[want["timestamp"] >= cutoff]
    got = u[u["timestamp"] >= cutoff]
    assert len(got) == len(want)
    assert set(map(tuple, got[KEY].astype(str).values)) == set(
        map(tuple, want[KEY].astype(str).values))


def test_status_shows_containers_days_bytes_and_the_last_collection(tmp_path: Path) -> None:
    store = tmp_path / "store"
    csv = tmp_path / "u.csv"
    u = hourly(3, "2026-11-20T00:00:00Z", "web")
    u.assign(timestamp=u["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv,
                                                                                 index=False)
    assert run_cli("import", str(csv), "--store", str(store)).code == 0
    r = run_cli("status", "--store", str(store), "-o", "json")
    assert r.code == 0, r.stderr
    s = json.loads(r.stdout)
    assert (s["containers"], s["days"], s["first_day"], s["last_day"], s["samples"]) == (
        1, 3, "2026-11-20", "2026-11-22", 3 * PER_DAY)
    assert s["bytes_on_disk"] == sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    assert s["last_collection"]["import"]["samples_added"] == 3 * PER_DAY
    table = run_cli("status", "--store", str(store)).stdout
    assert "days         3 (2026-11-20 .. 2026-11-22)" in table
    assert "last import" in table
    missing = run_cli("status", "--store", str(tmp_path / "nothing"))
    assert missing.code == 2 and len(missing.stderr.strip().splitlines()) == 1
