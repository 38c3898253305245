"""Findings age past ``--since``; evictions are findings with the request or limit to set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from quotatune.analysis.findings.common import DiagnosePolicy
from quotatune.analysis.findings.diagnose import diagnose
from quotatune.sources.kubernetes.files import read_kubectl_dump
from tests.support.frames import NOW, events

CLUSTER = Path(__file__).resolve().parents[2] / "fixtures" / "cluster"


def _oom(at: pd.Timestamp) -> pd.DataFrame:
    return events({"kind": "termination", "reason": "OOMKilled", "exit_code": 137,
                   "oom_killed": True, "timestamp": at})


def test_an_oom_older_than_since_is_history_never_critical():
    old = _oom(NOW - pd.Timedelta(days=40))
    [f] = diagnose(None, None, old, now=NOW,
                   policy=DiagnosePolicy(since=NOW - pd.Timedelta(days=14)))
    assert (f.kind, f.severity) == ("oom-killed", "info")
    assert any(e.startswith("history:") for e in f.evidence)


def test_without_since_every_failure_keeps_its_severity():
    [f] = diagnose(None, None, _oom(NOW - pd.Timedelta(days=40)), now=NOW)
    assert f.severity == "critical"


def test_an_oom_that_recurred_within_the_window_stays_critical():
    both = pd.concat([_oom(NOW - pd.Timedelta(days=40)), _oom(NOW - pd.Timedelta(days=1))])
    [f] = diagnose(None, None, both, now=NOW,
                   policy=DiagnosePolicy(since=NOW - pd.Timedelta(days=14)))
    assert f.severity == "critical" and "OOM-killed 2 times" in " ".join(f.evidence)


def test_a_real_pod_oom_killed_long_ago_and_running_since_is_history():
    data = read_kubectl_dump(CLUSTER / "kubeshark_worker_pod_lastState_OOMKilled.yaml")
    found = diagnose(data.usage, data.specs, data.events, now=NOW,
                     policy=DiagnosePolicy(since=NOW - pd.Timedelta(days=14)))
    oom = [f for f in found if f.kind == "oom-killed"]
    assert oom and all(f.severity == "info" for f in oom)
    assert oom[0].at == "2023-05-06T21:03:57Z"


def _evicted() -> dict:
    data = read_kubectl_dump(CLUSTER / "evicted_pods.yaml")
    found = diagnose(data.usage, data.specs, data.events, now=NOW)
    return {(f.namespace, f.container): f for f in found if f.kind == "evicted"}


def test_memory_evictions_of_real_pods_name_usage_against_request_and_the_request_to_set():
    ev = _evicted()
    node = ev[("cosmos", "node")]
    # 35505620Ki used against a 12Gi request: the request to set is at least that use.
    assert "memory use 34674Mi at eviction against its request 12Gi" in node.evidence
    assert "memory request to at least 34674Mi" in node.advice
    new_wording = ev[("ci", "dptp-controller-manager")]
    assert "memory use 47324Mi at eviction against its request 15Gi" in new_wording.evidence
    # Every container the kubelet named (request 0) gets its own finding; the one it did not
    # name (oauth-proxy, under its request) gets none.
    assert {c for ns, c in ev if ns == "openebs"} == {"cstor-pool", "cstor-pool-mgmt",
                                                      "maya-exporter"}
    assert ("ci", "oauth-proxy") not in ev
    assert ev[("openebs", "cstor-pool")].at == "2024-03-12T11:52:43Z"


def test_storage_evictions_from_real_events_give_the_limit_to_use():
    data = read_kubectl_dump(CLUSTER / "evicted_events.yaml")
    found = {(f.workload, f.container): f for f in diagnose(
        data.usage, data.specs, data.events, now=NOW) if f.kind == "evicted"}
    chart = found[("harbor-chartmuseum", "chartmuseum")]
    assert "disk use 1Mi at eviction" in " ".join(chart.evidence)
    assert "resources.limits.ephemeral-storage" in chart.advice
    own = found[("rc-evicted-ephemeral-storage", "")]
    assert "own ephemeral-storage limit (8Mi)" in own.advice


def test_pid_pressure_is_its_own_advice():
    ev = events({"kind": "event", "reason": "Evicted", "container": "",
                 "message": "The node was low on resource: pids."})
    [f] = [f for f in diagnose(None, None, ev, now=NOW) if f.kind == "evicted"]
    assert "process IDs" in f.advice


def _start(at: pd.Timestamp) -> pd.DataFrame:
    return events({"kind": "start", "reason": "Started", "timestamp": at})


def test_a_kill_without_a_time_behind_a_run_started_before_the_window_is_history():
    since = DiagnosePolicy(since=NOW - pd.Timedelta(days=14))
    timeless = _oom(pd.NaT)  # kube-state-metrics without last_terminated_timestamp
    old_run = pd.concat([timeless, _start(NOW - pd.Timedelta(days=30))])
    [f] = [f for f in diagnose(None, None, old_run, now=NOW, policy=since)
           if f.kind == "oom-killed"]
    assert f.severity == "info" and "running since" in f.evidence[-1]
    recent_run = pd.concat([timeless, _start(NOW - pd.Timedelta(days=1))])
    [g] = [f for f in diagnose(None, None, recent_run, now=NOW, policy=since)
           if f.kind == "oom-killed"]
    assert g.severity == "critical"


def test_a_kill_after_another_pods_old_start_is_not_hidden_by_it():
    since = DiagnosePolicy(since=NOW - pd.Timedelta(days=14))
    ev = pd.concat([_oom(NOW - pd.Timedelta(days=1)), _start(NOW - pd.Timedelta(days=30))])
    [f] = [f for f in diagnose(None, None, ev, now=NOW, policy=since) if f.kind == "oom-killed"]
    assert f.severity == "critical"


def test_the_pod_status_gives_the_current_runs_start():
    data = read_kubectl_dump(CLUSTER / "kubeshark_worker_pod_lastState_OOMKilled.yaml")
    starts = data.events[data.events["kind"] == "start"]
    assert starts["timestamp"].tolist() == [pd.Timestamp("2023-05-06T21:03:58Z")]
