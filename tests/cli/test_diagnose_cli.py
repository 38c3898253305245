"""``quotatune diagnose`` through the real entry point: files, the store, outputs, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.conftest import FIXTURES, run_cli
from tests.support.terminal import run_on_terminal

DIR = FIXTURES / "forensics"
MMAP = DIR / "vodacom_eureka_hs_err_pid1_mmap_jdk8.log"
GC_THREAD = DIR / "sergiologino_gradle_hs_err_pid1_gcthread_jdk11_cgroupv1.log"


def healthy_csv(tmp_path):
    n = 240
    t = pd.Timestamp("2026-11-27T00:00Z") + pd.to_timedelta(np.arange(n), unit="min")
    df = pd.DataFrame({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "namespace": "shop",
                       "workload": "web", "container": "app", "cpu_cores": 0.2,
                       "memory_working_set_bytes": 300 * 2**20, "memory_limit_bytes": 2**30})
    p = tmp_path / "usage.csv"
    df.to_csv(p, index=False)
    return p


def test_hs_err_files_as_json_with_evidence_and_no_environment_values():
    r = run_cli("diagnose", "--from", str(MMAP), str(GC_THREAD), "-o", "json", "--since", "all")
    assert r.code == 0, r.stderr
    findings = json.loads(r.stdout)
    assert [f["kind"] for f in findings] == ["jvm-startup-memory-failure"] * 2
    assert set(findings[0]) == {"namespace", "workload", "container", "kind", "severity", "at",
                                "evidence", "advice"}
    mmap = next(f for f in findings if f["workload"] == MMAP.stem)
    assert mmap["severity"] == "critical" and mmap["at"] == "2017-01-30T12:40:31Z"
    assert "failed allocation: 60Mi (62914560 bytes)" in mmap["evidence"]
    assert "/usr/lib/jvm" not in r.stdout and "/opt/java/openjdk" not in r.stdout


def test_fail_on_sets_the_exit_code():
    every = ("--since", "all")  # the crash log is from 2017: by default it is history
    assert run_cli("diagnose", "--from", str(MMAP), "--fail-on", "critical", *every).code == 1
    assert run_cli("diagnose", "--from", str(MMAP), "--fail-on", "warning", *every).code == 1
    assert run_cli("diagnose", "--from", str(MMAP), "--fail-on", "critical").code == 0


def test_healthy_usage_gives_no_findings_and_exit_0(tmp_path):
    r = run_cli("diagnose", "--from", str(healthy_csv(tmp_path)), "-o", "json",
                "--fail-on", "info")
    assert (r.code, json.loads(r.stdout)) == (0, [])
    r = run_cli("diagnose", "--from", str(healthy_csv(tmp_path)))
    assert r.code == 0 and "no findings" in r.stdout


def test_target_selects_one_file_s_finding():
    r = run_cli("diagnose", f"jvm/{GC_THREAD.stem}", "--from", str(MMAP), str(GC_THREAD),
                "-o", "json")
    assert r.code == 0, r.stderr
    assert [f["workload"] for f in json.loads(r.stdout)] == [GC_THREAD.stem]


def test_through_the_history_store(tmp_path):
    store = tmp_path / "store"
    assert run_cli("import", str(MMAP), "--store", str(store)).code == 0
    r = run_cli("diagnose", "--store", str(store), "-o", "json")
    assert r.code == 0, r.stderr
    assert [f["workload"] for f in json.loads(r.stdout)] == [MMAP.stem]


def test_bad_flags_are_one_line_and_exit_2(tmp_path):
    for args in (["-o", "yaml"], ["--fail-on", "fatal"],
                 ["--docker-host", "unix:///nonexistent.sock"]):
        r = run_cli("diagnose", "--from", str(MMAP), *args)
        assert r.code == 2, (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = run_cli("diagnose", "--docker-host", f"unix://{tmp_path}/no.sock")
    assert r.code == 2 and "cannot reach the Docker daemon" in r.stderr


def test_table_shows_log_lines_as_text_not_as_markup_or_terminal_codes(tmp_path):
    p = tmp_path / "hs_err_pid9.log"
    p.write_text("#\n# There is insufficient memory for the Java Runtime Environment to "
                 "continue.\n# Native memory allocation (malloc) failed to allocate 1048576 bytes"
                 " [blink]boom[/blink] \x1b]0;owned\x07\x1b[2J\n#\n")
    r = run_cli("diagnose", "--from", str(p))
    assert r.code == 0, r.stderr
    assert "[blink]boom[/blink]" in r.stdout
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "\\x1b" in r.stdout
    j = run_cli("diagnose", "--from", str(p), "-o", "json")
    line = next(e for e in json.loads(j.stdout)[0]["evidence"] if "malloc" in e)
    assert "\x1b]0;owned\x07" in line  # JSON carries the raw text; JSON escapes it


def test_since_turns_old_failures_into_history():
    # The hs_err file is from 2017: a week's window does not reach it, so it is history.
    r = run_cli("diagnose", "--from", str(MMAP), "--since", "7d", "-o", "json")
    assert r.code == 0, r.stderr
    assert {f["severity"] for f in json.loads(r.stdout)} == {"info"}
    r = run_cli("diagnose", "--from", str(MMAP), "--since", "soon")
    assert r.code == 2 and "--since: not a duration" in r.stderr


def test_diagnose_from_files_on_a_terminal_shows_each_step_and_json_stays_quiet(tmp_path):
    csv = healthy_csv(tmp_path)
    run = run_on_terminal("diagnose", "--from", str(csv), "--since", "all")
    assert run.code == 0, run.terminal[-500:]
    for step in (b"reading files", b"writing days", b"reading the store"):
        assert step in run.terminal
    quiet = run_on_terminal("diagnose", "--from", str(csv), "-o", "json", "--since", "all")
    assert quiet.code == 0 and b"reading files" not in quiet.terminal
    assert json.loads(quiet.stdout) == []
