"""``quotatune report`` through the real entry point: files written, cron behaviour, exit codes."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.sources.envscan import scan
from quotatune.store.history import Store
from tests.conftest import ROOT, run_cli
from tests.support.report_data import HOSTILE, fleet
from tests.support.terminal import run_on_terminal

SECRET = "s3cr3t-hunter2-value"


@pytest.fixture(scope="module")
def usage_csv(tmp_path_factory) -> Path:
    usage, _ = fleet(9, days=3)
    path = tmp_path_factory.mktemp("in") / "usage.csv"
    usage.assign(timestamp=usage["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        path, index=False)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A history store with OOM kills in its events and a spec whose env holds a secret."""
    usage, events = fleet(12, days=3)
    root = tmp_path_factory.mktemp("store")
    found = scan(["java", "-Xmx512m", "-jar", "app.jar"], [],
                 {"DB_PASSWORD": SECRET, "JAVA_TOOL_OPTIONS": "-Xms256m"})
    specs = pd.DataFrame([{
        "namespace": "team-3", "workload": HOSTILE, "workload_kind": "Deployment",
        "pod": f"{HOSTILE}-3", "container": "app", "image": "app:1",
        "command": "java", "args": "", "env_names": list(found.env_names),
        "jvm_options": list(found.jvm_options), "non_ascii_env": [],
        "cpu_request_cores": 0.5, "memory_request_bytes": 2**30, "source": "test"}],
        columns=model.SPEC_COLUMNS)
    Store(root).append(Collected(usage=usage, specs=specs, events=events))
    return root


def reports_in(out: Path) -> list[Path]:
    return sorted(out.glob("quotatune-report-*.html"))


def test_report_from_files_writes_a_dated_owner_only_report_and_the_index(usage_csv, tmp_path):
    r = run_cli("report", "--from", str(usage_csv), "--out", str(tmp_path),
                "--now", "2026-11-27T23:00:00Z")
    assert r.code == 0, r.stderr
    report = tmp_path / "quotatune-report-20261127T2300Z.html"
    assert r.stdout.strip() == f"wrote {report}"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600  # it quotes log lines
    page = report.read_text()
    assert page.count('<tr data-key="') == 9
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    index = (tmp_path / "index.html").read_text()
    assert 'href="quotatune-report-20261127T2300Z.html"' in index


def test_cron_is_silent_on_success_and_prunes_old_reports(usage_csv, tmp_path):
    for day in range(24, 28):
        r = run_cli("report", "--from", str(usage_csv), "--out", str(tmp_path), "--cron",
                    "--keep", "2", "--now", f"2026-11-{day}T02:00:00Z")
        assert (r.code, r.stdout, r.stderr) == (0, "", "")
    assert [p.name for p in reports_in(tmp_path)] == [
        "quotatune-report-20261126T0200Z.html", "quotatune-report-20261127T0200Z.html"]
    index = (tmp_path / "index.html").read_text()
    assert "2026-11-25T02:00" not in index and "2026-11-27T02:00:00Z" in index


def test_keep_days_uses_the_run_clock(usage_csv, tmp_path):
    for day in (1, 20, 27):
        assert run_cli("report", "--from", str(usage_csv), "--out", str(tmp_path), "--cron",
                       "--keep-days", "7", "--now", f"2026-11-{day:02d}T00:00:00Z").code == 0
    assert [p.name for p in reports_in(tmp_path)] == [
        "quotatune-report-20261120T0000Z.html", "quotatune-report-20261127T0000Z.html"]


def test_fail_on_exits_1_after_writing_and_says_why_even_in_cron(store, tmp_path):
    r = run_cli("report", "--store", str(store), "--out", str(tmp_path), "--cron",
                "--fail-on", "critical", "--now", "2026-11-27T23:00:00Z")
    assert r.code == 1
    assert r.stdout == ""
    assert "finding(s) at or above critical" in r.stderr and len(r.stderr.splitlines()) == 1
    page = reports_in(tmp_path)[0].read_text()
    assert "oom-killed" in page and "OOM kill" in page


def test_no_environment_value_reaches_the_report(store, tmp_path):
    r = run_cli("report", "--store", str(store), "--out", str(tmp_path), "--cron",
                env={"QUOTATUNE_TEST_TOKEN": SECRET, "DB_PASSWORD": SECRET})
    assert r.code == 0, r.stderr
    for p in tmp_path.iterdir():
        if p.is_file():
            assert SECRET not in p.read_text(), p.name


def test_target_limits_the_report_to_a_namespace(usage_csv, tmp_path):
    r = run_cli("report", "team-1/", "--from", str(usage_csv), "--out", str(tmp_path))
    assert r.code == 0, r.stderr
    page = reports_in(tmp_path)[0].read_text()
    keys = [k for k in page.split('<tr data-key="')[1:]]
    assert keys and all(k.startswith("team-1/") for k in keys)


def test_an_overlapping_run_exits_75_with_one_line_and_writes_nothing(usage_csv, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from quotatune.pipelines import archive\n"
         "with archive.locked(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
         str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = run_cli("report", "--from", str(usage_csv), "--out", str(tmp_path), "--cron")
        assert r.code == 75
        assert len(r.stderr.splitlines()) == 1 and "another report run holds" in r.stderr
        assert f"pid {holder.pid}" in r.stderr
        assert reports_in(tmp_path) == []
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("report", "--from", str(usage_csv), "--out", str(tmp_path),
                   "--cron").code == 0


@pytest.mark.parametrize("args, words", [
    (["--from", "/nonexistent/usage.csv"], "no such file"),
    (["--fail-on", "loud"], "unknown severity"),
    (["--now", "yesterday-ish"], "bad --now"),
    (["--strategy", "crystal-ball"], "unknown strategy"),
    (["--strategy", ""], "unknown strategy ''; use one of"),
    (["--keep-days", "inf"], "--keep-days must be a number of days up to 36500, not inf"),
    (["--keep-days", "1e300"], "not 1e+300"),
    (["--node-shape", "99999999999999999cpu/16Gi"], "CPU is out of range"),
])
def test_bad_input_is_one_line_and_exit_2(usage_csv, tmp_path, args, words):
    base = [] if "--from" in args else ["--from", str(usage_csv)]
    r = run_cli("report", *base, *args, "--out", str(tmp_path))
    assert r.code == 2
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_a_bad_strategy_leaves_no_reports_directory_behind(usage_csv, tmp_path):
    r = run_cli("report", "--from", str(usage_csv), "--strategy", "",
                "--out", str(tmp_path / "reports"))
    assert r.code == 2 and "unknown strategy ''" in r.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_store_day_is_named_not_blamed_on_the_reports_directory(store, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(store, root)
    day = sorted((root / "usage").iterdir())[0]
    day.chmod(0)
    try:
        r = run_cli("report", "--store", str(root), "--out", str(tmp_path / "out"))
    finally:
        day.chmod(0o700)
    assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert str(day) in r.stderr and "Permission denied" in r.stderr
    assert "cannot write" not in r.stderr and "Traceback" not in r.stderr


def test_an_out_path_that_is_a_file_is_an_input_error(usage_csv, tmp_path):
    blocker = tmp_path / "reports"
    blocker.write_text("not a directory")
    r = run_cli("report", "--from", str(usage_csv), "--out", str(blocker))
    assert r.code == 2 and "reports directory" in r.stderr and "Traceback" not in r.stderr


def test_two_cron_runs_started_together_never_write_side_by_side(usage_csv, tmp_path):
    cmd = [sys.executable, "-m", "quotatune", "report", "--from", str(usage_csv), "--out",
           str(tmp_path), "--cron"]
    runs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    results = [(p.wait(timeout=600), p.stdout.read(), p.stderr.read())  # type: ignore[union-attr]
               for p in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes in ([0, 0], [0, 75]), results
    written = reports_in(tmp_path)
    assert len(written) == codes.count(0)  # each successful run wrote its own file
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    index = (tmp_path / "index.html").read_text()
    assert all(f'href="{p.name}"' in index for p in written)


def test_lock_wait_lets_a_run_wait_for_the_one_before_it(usage_csv, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from quotatune.pipelines import archive\n"
         "with archive.locked(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(3)",
         str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = run_cli("report", "--from", str(usage_csv), "--out", str(tmp_path), "--cron",
                    "--lock-wait", "120")
        assert (r.code, r.stderr) == (0, "")
        assert len(reports_in(tmp_path)) == 1
    finally:
        holder.kill()
        holder.wait()


def test_report_from_files_on_a_terminal_shows_the_files_read_and_days_written(usage_csv,
                                                                              tmp_path):
    run = run_on_terminal("report", "--from", str(usage_csv), "--out", str(tmp_path),
                          "--now", "2026-11-27T23:00:00Z")
    assert run.code == 0, run.terminal[-500:]
    assert run.stdout.startswith("wrote ")  # stdout stays clean for scripts
    assert b"reading files" in run.terminal and b"writing days" in run.terminal
    piped = run_cli("report", "--from", str(usage_csv), "--out", str(tmp_path / "p"),
                    "--now", "2026-11-27T23:00:00Z")
    assert piped.code == 0 and "reading files" not in piped.stderr


def test_report_from_the_store_on_a_terminal_shows_the_days_read_and_cron_shows_nothing(
        store, tmp_path):
    run = run_on_terminal("report", "--store", str(store), "--out", str(tmp_path / "t"),
                          "--now", "2026-11-27T23:00:00Z")
    assert run.code == 0, run.terminal[-500:]
    assert run.stdout.startswith("wrote ")
    assert b"reading the store" in run.terminal
    # The scheduled report, run by hand on a terminal, stays silent but for its output.
    cron = run_on_terminal("report", "--store", str(store), "--out", str(tmp_path / "c"),
                           "--now", "2026-11-27T23:00:00Z", "--cron")
    assert cron.code == 0, cron.terminal[-500:]
    assert b"reading the store" not in cron.terminal and b"\x1b" not in cron.terminal
