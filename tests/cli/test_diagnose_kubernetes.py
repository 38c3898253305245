"""``quotatune diagnose`` on Kubernetes: live through ``--context`` against the recorded API
stand-in (tests/support/k8s_standin.py, real captured payloads over HTTP), and file mode on
``kubectl get … -o json`` dumps of real pods."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_cli
from tests.support.k8s_standin import StandIn, honeycomb_cluster, kubeconfig

DIR = FIXTURES / "forensics"


@pytest.fixture
def api() -> Iterator[StandIn]:
    with StandIn(honeycomb_cluster()) as standin:
        yield standin
    assert standin.methods() <= {"GET"}


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path), "KUBECONFIG": ""}


def test_live_cluster_findings_through_a_context(api, tmp_path):
    kc = kubeconfig(tmp_path / "kc", api.url, context="standin")
    r = run_cli("diagnose", "--context", "standin", "--kubeconfig", str(kc), "-o", "json",
                env=env_for(tmp_path))
    assert r.code == 0, r.stderr
    found = {(f["namespace"], f["workload"], f["kind"]): f for f in json.loads(r.stdout)}
    assert set(found) == {
        ("mysql", "phpmyadmin", "exit-137"),  # lastState exit 137, reason Error
        ("mysql", "phpmyadmin", "crash-loop"),  # BackOff event
        ("default", "duckboat-01", "oom-killed"),  # the node's OOMKilling event
        ("scraper", "e2e-hpa", "pending-insufficient-resources"),  # FailedScheduling
    }
    kill = found[("mysql", "phpmyadmin", "exit-137")]
    # The node's OOM killer took php-fpm 3.5 minutes before: named as the likely cause.
    assert any("Killed process 23471 (php-fpm)" in e for e in kill["evidence"])
    pending = found[("scraper", "e2e-hpa", "pending-insufficient-resources")]
    assert "No node has enough free cpu and memory for this pod's requests" in pending["advice"]
    # The set above is exact: the 8 other running pods, restarted by an old node reboot
    # (exit 255), are not flagged.


def test_a_namespace_and_a_target(api, tmp_path):
    kc = kubeconfig(tmp_path / "kc", api.url)
    r = run_cli("diagnose", "mysql/phpmyadmin", "--context", "standin", "--kubeconfig", str(kc),
                "-n", "mysql", "-o", "json", "--fail-on", "critical", "--since", "all",
                env=env_for(tmp_path))
    assert r.code == 1, r.stderr  # the crash loop is critical
    assert {f["kind"] for f in json.loads(r.stdout)} == {"exit-137", "crash-loop"}
    r = run_cli("diagnose", "mysql/phpmyadmn", "--context", "standin", "--kubeconfig", str(kc),
                env=env_for(tmp_path))
    assert r.code == 2 and "nearest: mysql/phpmyadmin" in r.stderr


def test_unknown_context_is_one_line_and_exit_2(api, tmp_path):
    kc = kubeconfig(tmp_path / "kc", api.url)
    r = run_cli("diagnose", "--context", "prod", "--kubeconfig", str(kc), env=env_for(tmp_path))
    assert r.code == 2 and r.stderr.count("\n") == 1


def test_kubectl_dumps_of_real_pods():
    r = run_cli("diagnose", "--from", str(DIR / "kubeshark_worker_pod_lastState_OOMKilled.json"),
                str(DIR / "newrelic_minikube_1_34_pod_CrashLoopBackOff.json"),
                str(DIR / "honeycomb_pods.json"), "-o", "json", "--since", "all")
    assert r.code == 0, r.stderr
    got = sorted((f["workload"], f["kind"], f["severity"]) for f in json.loads(r.stdout))
    assert got == [
        ("e2e-container-creating", "crash-loop", "critical"),
        ("kubeshark-worker-daemon-set", "oom-killed", "critical"),
        ("phpmyadmin", "exit-137", "warning"),
    ]


# What diagnose says of the events it left out, worded as import's note (the time is the clock's).
FUTURE_EVENTS = re.compile(r"note: ignored (\d+) event\(s\) stamped in the future \(after "
                           r"\d{4}-\d\d-\d\dT\d\d:\d\dZ\): check the source's clock")


def stamped_tomorrow(seconds: int = 0) -> str:
    at = datetime.now(UTC) + timedelta(days=1, seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def events_left_out(stderr: str) -> list[int]:
    return [int(m.group(1)) for m in map(FUTURE_EVENTS.fullmatch, stderr.splitlines()) if m]


def test_a_kill_a_node_stamped_tomorrow_is_left_out_with_a_note(tmp_path):
    """The node's clock runs a day ahead: its OOMKilling event is no finding (it would stay
    the newest failure for a day), and stderr says how many events were left out."""
    cluster = honeycomb_cluster()
    for ev in cluster.events:
        if ev["reason"] == "OOMKilling":
            ev["firstTimestamp"] = ev["lastTimestamp"] = stamped_tomorrow()
    with StandIn(cluster) as api:
        kc = kubeconfig(tmp_path / "kc", api.url, context="standin")
        r = run_cli("diagnose", "--context", "standin", "--kubeconfig", str(kc), "-o", "json",
                    env=env_for(tmp_path))
    assert r.code == 0, r.stderr
    found = {(f["namespace"], f["workload"], f["kind"]) for f in json.loads(r.stdout)}
    assert found == {("mysql", "phpmyadmin", "exit-137"), ("mysql", "phpmyadmin", "crash-loop"),
                     ("scraper", "e2e-hpa", "pending-insufficient-resources")}
    assert events_left_out(r.stderr) == [1]


def test_a_kubectl_dump_with_a_kill_stamped_tomorrow(tmp_path):
    """``--from`` says what it left out, as ``import`` does: the kill and the restart a
    second after it, both stamped a day ahead, are no finding."""
    text = (DIR / "kubeshark_worker_pod_lastState_OOMKilled.json").read_text()
    for second, stamp in enumerate(("2023-05-06T21:03:57Z", "2023-05-06T21:03:58Z")):
        assert stamp in text
        text = text.replace(stamp, stamped_tomorrow(second))
    dump = tmp_path / "pod.json"
    dump.write_text(text)
    r = run_cli("diagnose", "--from", str(dump), "-o", "json", "--since", "all")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout) == []
    assert events_left_out(r.stderr) == [2]
