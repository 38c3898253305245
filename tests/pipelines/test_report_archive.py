"""The reports directory: dated names, atomic 0644 writes, the lock, retention, the index."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quotatune.pipelines import archive
from quotatune.render.html.report import META_ID, script_json

NOW = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)


def fake_report(out: Path, when: datetime, target: str = "(all)") -> Path:
    meta = {"generated_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "target": target,
            "strategy": "tail", "containers": 3, "cpu_current": 2.0, "cpu_recommended": 1.0,
            "cpu_net_freed": 1.0, "mem_net_freed_gib": 0.5,
            "findings": {"info": 0, "warning": 1, "critical": 2}}
    path = archive.report_path(out, when)
    path.write_text(f'<html><head><script type="application/json" id="{META_ID}">'
                    f"{script_json(meta)}</script></head></html>")
    return path


def test_names_are_dated_in_utc_and_a_second_report_in_the_same_minute_gets_a_suffix(tmp_path):
    local = NOW.astimezone(__import__("datetime").timezone(timedelta(hours=2)))
    first = archive.report_path(tmp_path, local)
    assert first.name == "quotatune-report-20261127T2300Z.html"
    first.write_text("x")
    assert archive.report_path(tmp_path, NOW).name == "quotatune-report-20261127T2300Z-2.html"
    assert archive.report_time(first.name) == NOW


def test_writes_are_atomic_and_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0o000)
    try:
        path = tmp_path / "r.html"
        archive.write_atomic(path, "<p>one</p>")
        archive.write_atomic(path, "<p>two</p>")
    finally:
        os.umask(old)
    assert path.read_text() == "<p>two</p>"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary files left


def test_retention_keeps_the_newest_and_the_recent_and_never_touches_other_files(tmp_path):
    made = [fake_report(tmp_path, NOW - timedelta(days=d)) for d in (10, 5, 2, 1, 0)]
    (tmp_path / "notes.html").write_text("mine")
    (tmp_path / "quotatune-report-garbage.html").write_text("not a dated name")
    removed = archive.prune(tmp_path, NOW, keep=4, protect=made[-1])
    assert removed == [made[0]]
    removed = archive.prune(tmp_path, NOW, keep_days=3, protect=made[-1])
    assert sorted(removed) == [made[1]]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "notes.html" in left and "quotatune-report-garbage.html" in left
    assert archive.prune(tmp_path, NOW, keep=1, protect=made[-1]) == made[2:4]
    assert made[-1].exists()


def test_index_lists_reports_newest_first_with_their_summaries_escaped(tmp_path):
    fake_report(tmp_path, NOW - timedelta(days=1), target="<img src=x onerror=alert(1)>/")
    fake_report(tmp_path, NOW)
    (tmp_path / "quotatune-report-20261101T0000Z.html").write_text("truncated, no summary")
    index = archive.update_index(tmp_path, NOW).read_text()
    rows = index.split("<tbody>")[1]
    assert rows.index("2026-11-27T23:00:00Z") < rows.index("2026-11-26T23:00:00Z") < rows.index(
        "2026-11-01T00:00:00Z")
    assert "summary not readable" in index
    assert "<img src=x" not in index and "&lt;img src=x onerror=alert(1)&gt;/" in index
    assert 'href="quotatune-report-20261127T2300Z.html"' in index


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    with archive.locked(tmp_path, 0, NOW):
        with pytest.raises(archive.LockHeld, match=f"pid {os.getpid()} since 2026-11-27"):
            with archive.locked(tmp_path, 0.3, NOW):
                pass
    with archive.locked(tmp_path, 0, NOW):  # released: free again
        pass


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from quotatune.pipelines import archive\n"
         "with archive.locked(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
         str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(archive.LockHeld):
            with archive.locked(tmp_path, 0):
                pass
        holder.kill()
        holder.wait()
        t0 = time.monotonic()
        with archive.locked(tmp_path, 5):
            assert time.monotonic() - t0 < 5
    finally:
        holder.kill()
        holder.wait()


def test_reports_of_the_same_minute_keep_their_order_past_nine(tmp_path):
    names = ["quotatune-report-20261127T0108Z.html"] + [
        f"quotatune-report-20261127T0108Z-{i}.html" for i in range(2, 12)]
    for n in reversed(names):
        (tmp_path / n).write_text("<html></html>")
    listed = [p.name for p, _ in archive.list_reports(tmp_path)]
    assert listed == names
    archive.prune(tmp_path, datetime(2026, 11, 27, 2, 0, tzinfo=UTC), keep=1)
    assert [p.name for p, _ in archive.list_reports(tmp_path)] == [names[-1]]
