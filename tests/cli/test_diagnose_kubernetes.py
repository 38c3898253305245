"""``quotatune diagnose`` on Kubernetes: live through ``--context`` against the recorded API
stand-in (tests/support/k8s_standin.py, real captured payloads over HTTP), and file mode on
``kubectl get … -o json`` dumps of real pods."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
