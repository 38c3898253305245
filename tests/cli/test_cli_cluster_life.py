"""The daily life of a real cluster through the real entry point: every known container
listed, OOM history read right (no ratchet, old kills are history), evictions, YAML input and
tolerant batches. Inputs are real pod objects and JVM crash logs (tests/fixtures/) and the
scenarios built around them below."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from quotatune.model.collected import Collected
from quotatune.sources.docker.parse import parse_inspect
from quotatune.sources.docker.rows import event_rows, spec_row
from quotatune.store.history import Store
from tests.conftest import run_cli

FIX = Path(__file__).resolve().parents[1] / "fixtures"
OLD_OOM_POD = FIX / "cluster" / "kubeshark_worker_pod_lastState_OOMKilled.yaml"
MIB = 2**20
NOW = pd.Timestamp("2026-11-27T22:00:00Z")


def _json(run) -> list[dict]:
    assert run.code == 0, run.stderr
    return json.loads(run.stdout)


def _pod(name: str, containers: dict[str, dict], status: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                 "name": name.rsplit("-", 1)[0]}]},
            "spec": {"containers": [{"name": c, "image": f"{c}:1", "resources": r}
                                    for c, r in containers.items()]},
            "status": status or {"phase": "Running"}}


def _usage_csv(path: Path, limits: list[float], end: pd.Timestamp = NOW) -> Path:
    """shop/web/app every 5 minutes for len(limits) days up to ``end``, the memory limit of
    each day as given, a working set of 180 MiB with one 300 MiB peak on the last day."""
    days = len(limits)
    t = pd.date_range(end - pd.Timedelta(days=days), end, freq="5min", inclusive="left")
    mem = np.full(len(t), 180.0 * MIB)
    mem[-100] = 300.0 * MIB
    day = ((t - t[0]) // pd.Timedelta(days=1)).to_numpy()
    pd.DataFrame({
        "timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "namespace": "shop", "workload": "web",
        "pod": "web-7d9f8b6c5d-x7k2p", "container": "app", "cpu_cores": 0.1,
        "memory_working_set_bytes": mem,
        "memory_limit_bytes": np.asarray(limits, dtype=float)[day] * MIB,
    }).to_csv(path, index=False)
    return path


def test_a_sidecar_without_usage_is_listed_beside_the_sized_container(tmp_path: Path):
    """Before: only shop/web/app was listed; the sidecar and its values were silently lost."""
    csv = _usage_csv(tmp_path / "usage.csv", [512] * 7)
    pod = tmp_path / "pod.yaml"
    pod.write_text(yaml.safe_dump(_pod("web-7d9f8b6c5d-x7k2p", {
        "app": {"limits": {"memory": "512Mi"}},
        "log-shipper": {"requests": {"cpu": "20m", "memory": "30Mi"},
                        "limits": {"memory": "64Mi"}}})))
    for output in ("json", "yaml", "csv", "table"):
        run = run_cli("recommend", "shop/", "--from", str(csv), str(pod), "-o", output)
        assert run.code == 0, run.stderr
        assert "log-shipper" in run.stdout and "no-usage" in run.stdout
    recs = {r["container"]: r for r in _json(run_cli(
        "recommend", "shop/web", "--from", str(csv), str(pod), "-o", "json"))}
    assert recs["app"]["status"] == "ok"
    side = recs["log-shipper"]
    assert side["current"] == {"cpu_request_millicores": 20, "memory_request_mib": 30,
                               "memory_limit_mib": 64}
    assert side["memory_request_mib"] is None and side["samples"] == 0


def test_import_a_kubectl_dump_then_recommend_a_namespace(tmp_path: Path):
    """Before: exit 2, "no usage samples for mysql/"."""
    run = run_cli("import", str(FIX / "kubernetes" / "honeycomb_pods.json"), "--store",
                  str(tmp_path / "st"))
    assert run.code == 0, run.stderr
    recs = _json(run_cli("recommend", "mysql/", "--store", str(tmp_path / "st"), "-o", "json"))
    assert [(r["workload"], r["status"]) for r in recs] == [("phpmyadmin", "no-usage")]
    plan = run_cli("plan", "--store", str(tmp_path / "st"), "-o", "json")
    assert plan.code == 0, plan.stderr
    wrong = run_cli("recommend", "mysq/", "--store", str(tmp_path / "st"))
    assert wrong.code == 2 and "nearest: mysql/" in wrong.stderr


def test_a_jvm_crash_log_alone_gives_a_memory_recommendation_from_its_flags():
    log = FIX / "forensics" / "sergiologino_gradle_hs_err_pid1_gcthread_jdk11_cgroupv1.log"
    [rec] = _json(run_cli("recommend", "--from", str(log), "-o", "json"))
    assert rec["status"] == "no-usage"
    assert rec["memory_limit_mib"] is not None and rec["memory_limit_mib"] > 64  # -Xmx64m
    assert any("-Xmx64m" in r for r in rec["reasons"])


def test_the_oom_floor_does_not_ratchet_after_applying_the_recommendation(tmp_path: Path):
    """OOM at a 256 MiB limit, the limit raised to 512 MiB since, peak 300 MiB.
    Before: the floor came from 512 MiB (615 MiB) and rose again after every apply."""
    store = str(tmp_path / "st")
    killed = _pod("web-6b8f9c7d54-q9w8z", {"app": {"limits": {"memory": "256Mi"}}}, {
        "phase": "Running", "containerStatuses": [{
            "name": "app", "restartCount": 1,
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                         "finishedAt": "2026-11-16T10:00:00Z"}},
            "state": {"running": {"startedAt": "2026-11-16T10:00:05Z"}}}]})
    (tmp_path / "killed.yaml").write_text(yaml.safe_dump(killed))
    limits = [256.0] * 3 + [512.0] * 4  # the kill on day 3 (2026-11-16), raised the day after
    csv = _usage_csv(tmp_path / "week1.csv", limits, end=NOW - pd.Timedelta(days=7))
    assert run_cli("import", str(csv), str(tmp_path / "killed.yaml"), "--store", store).code == 0
    [first] = _json(run_cli("recommend", "shop/web/app", "--store", store, "-o", "json"))
    oom = [r for r in first["reasons"] if "OOM kill" in r]
    assert len(oom) == 1 and "at limit 256 MiB" in oom[0] and "512 MiB" not in oom[0]
    # Apply it: the next week runs at the recommended limit, with no new kill.
    applied = first["memory_limit_mib"]
    week2 = _usage_csv(tmp_path / "week2.csv", [applied] * 7)
    assert run_cli("import", str(week2), "--store", store).code == 0
    [again] = _json(run_cli("recommend", "shop/web/app", "--store", store, "-o", "json"))
    assert again["memory_limit_mib"] == applied
    assert again["current"]["memory_limit_mib"] == applied


def test_an_old_oom_does_not_fail_the_nightly_report(tmp_path: Path):
    """The README's crontab line on a real pod OOM-killed in 2023 and running since.
    Before: exit 2 (no usage samples: nothing to report); with usage, exit 1 every night."""
    out = tmp_path / "reports"
    run = run_cli("report", "--from", str(OLD_OOM_POD), "--cron", "--fail-on", "critical",
                  "--out", str(out), "--keep-days", "30")
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    html = next(out.glob("quotatune-report-*.html")).read_text()
    assert "kubeshark-worker" in html and "oom-killed" in html
    everything = run_cli("report", "--from", str(OLD_OOM_POD), "--cron", "--fail-on",
                         "critical", "--out", str(out), "--since", "all")
    assert everything.code == 1 and "1 finding(s) at or above critical" in everything.stderr
    findings = _json(run_cli("diagnose", "--from", str(OLD_OOM_POD), "-o", "json"))
    assert [(f["kind"], f["severity"]) for f in findings] == [("oom-killed", "info")]


def test_a_report_of_a_docker_host_whose_containers_all_exited(tmp_path: Path):
    """A real inspect of an exited, OOM-killed container: specs and events, no usage.
    Before: exit 2, "no usage samples for (all): nothing to report"."""
    raw = json.loads((FIX / "docker" / "dockerd_20_10_inspect_oomkilled_hog.json").read_text())
    info = parse_inspect(raw)
    logs = (FIX / "docker" / "dockerd_20_10_logs_hog.txt").read_bytes()
    data = Collected(specs=pd.DataFrame([spec_row(info, "host", "docker")]),
                     events=event_rows(info, logs, 20, "docker"))
    Store(tmp_path / "st").append(data)
    run = run_cli("report", "--store", str(tmp_path / "st"), "--out", str(tmp_path / "r"),
                  "--since", "all", "--now", "2026-11-27T22:00:00Z")
    assert run.code == 0, run.stderr
    html = next((tmp_path / "r").glob("quotatune-report-*.html")).read_text()
    assert info.container in html and "no-usage" in html and "oom-killed" in html


@pytest.mark.parametrize("command", ["diagnose", "recommend", "report", "plan"])
def test_a_garbage_file_in_a_batch_is_one_warning_and_the_rest_is_read(tmp_path: Path,
                                                                       command: str):
    """Before: exit 2 on the garbage file, nothing from the good one."""
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    extra = ["--out", str(tmp_path / "r")] if command == "report" else []
    run = run_cli(command, "--from", str(OLD_OOM_POD), str(garbage), *extra)
    assert run.code == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "garbage.bin" in warnings[0]
    if command in ("diagnose", "recommend"):
        assert "kubeshark-worker" in run.stdout


def test_a_batch_where_nothing_can_be_read_exits_2(tmp_path: Path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01\x02")
    run = run_cli("diagnose", "--from", str(garbage), "--from", str(tmp_path / "missing.yaml"))
    assert run.code == 2
    assert run.stderr.count("\n") == 1 and "none of the 2 files could be read" in run.stderr


def test_import_and_backtest_skip_an_unreadable_file(tmp_path: Path):
    csv = _usage_csv(tmp_path / "usage.csv", [512] * 7)
    garbage = tmp_path / "notes.txt"
    garbage.write_text("meeting notes, not a trace\n")
    run = run_cli("import", str(csv), str(garbage), "--store", str(tmp_path / "st"))
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("imported 1 file(s)")
    assert "warning: skipped" in run.stderr and "notes.txt" in run.stderr
    bt = run_cli("backtest", "--from", str(csv), str(garbage), "--train-days", "4",
                 "--test-days", "2", "-o", "json")
    assert bt.code == 0, bt.stderr
    assert "notes.txt" in bt.stderr and json.loads(bt.stdout)


def test_evicted_pods_in_multi_document_yaml_are_findings():
    """Before: "unknown format" (YAML was refused), and evictions gave no finding."""
    run = run_cli("diagnose", "--from", str(FIX / "cluster" / "evicted_pods.yaml"),
                  "--since", "all", "-o", "json")
    found = [f for f in _json(run) if f["kind"] == "evicted"]
    assert {f["namespace"] for f in found} == {"openebs", "cosmos", "ci"}
    cosmos = next(f for f in found if f["namespace"] == "cosmos")
    assert "memory request to at least 34674Mi" in cosmos["advice"]
