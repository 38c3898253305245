"""Pending prediction on the real honeycomb nodes and pods, against FailedScheduling messages.

The nodes (2 x 7910m / 31127824Ki / 58 pods) and pods are the real payloads in
tests/fixtures/capacity.  Each case changes only the requests of one workload (through a
recommendation, or in the pod JSON for the *current* requests) and expects the message
kube-scheduler writes in its FailedScheduling event: ``0/N nodes are available: <count>
<reason>, ….`` with the reasons sorted as strings.
"""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from quotatune.analysis.capacity.plan import plan_capacity
from quotatune.model import Current, Recommendation
from quotatune.render.plan.html import plan_fragment
from quotatune.sources.kubernetes.nodes import parse_nodes
from quotatune.sources.kubernetes.parse import parse_pods
from tests.conftest import FIXTURES

CAP = FIXTURES / "capacity"


def load(name: str):
    return json.loads((CAP / name).read_text())


@pytest.fixture(scope="module")
def nodes() -> pd.DataFrame:
    return parse_nodes(load("honeycomb_nodes.json"))


@pytest.fixture(scope="module")
def specs() -> pd.DataFrame:
    return parse_pods(load("honeycomb_pods.json"))[0]


def rec(ns: str, wl: str, container: str, cpu: int | None, mem: int | None,
        mem_limit: int | None = None) -> Recommendation:
    return Recommendation(ns, wl, container, cpu, None, mem, mem_limit, Current(), "test", 100,
                          48.0, "high", "ok")


def pending(plan, scenario="recommended"):
    return [(p.namespace, p.workload, p.pods, p.lacks, p.message)
            for p in plan.scenarios[scenario].pending]


def test_the_captured_cluster_fits_as_it_runs(specs, nodes):
    plan = plan_capacity([], specs, nodes, [])
    cur = plan.scenarios["current"]
    assert pending(plan, "current") == []
    # 5 DaemonSets on each of 2 nodes + 6 single-replica workloads.
    assert cur.pods == 16
    assert cur.requested == (2 * (100 + 250) + 100, 2 * 100 * 2**20 + 100 * 2**20)
    assert sum(n.requested[2] for n in cur.nodes) == 16


def test_a_pod_wanting_more_cpu_than_any_node_is_pending_for_cpu(specs, nodes):
    plan = plan_capacity([rec("olly", "grafana", "grafana", 8000, 256)], specs, nodes, [])
    assert pending(plan) == [
        ("olly", "grafana", 1, "cpu", "0/2 nodes are available: 2 Insufficient cpu.")]
    assert pending(plan, "current") == []


def test_memory_shortage_is_named_memory(specs, nodes):
    plan = plan_capacity([rec("mysql", "phpmyadmin", "phpmyadmin", 100, 40 * 1024)],
                         specs, nodes, [])
    assert pending(plan) == [
        ("mysql", "phpmyadmin", 1, "memory", "0/2 nodes are available: 2 Insufficient memory.")]


def test_both_resources_short_lists_both_reasons(specs, nodes):
    plan = plan_capacity([rec("default", "kuard", "kuard", 9000, 40 * 1024)], specs, nodes, [])
    assert pending(plan) == [(
        "default", "kuard", 1, "both",
        "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory.",
    )]


def test_a_daemonset_pod_is_pending_only_on_the_node_that_is_full(specs, nodes):
    # kuard takes 7.5 cores: it lands on one node, and the speaker DaemonSet pod meant for that
    # node (now 1 core) no longer fits there; the other node is not its node.
    recs = [rec("default", "kuard", "kuard", 7500, 128),
            rec("metallb-system", "speaker", "speaker", 1000, 100)]
    plan = plan_capacity(recs, specs, nodes, [])
    # DaemonSets are placed first, so it is kuard that does not fit after them.
    assert pending(plan) == [(
        "default", "kuard", 1, "cpu", "0/2 nodes are available: 2 Insufficient cpu.")]


def test_daemonset_message_counts_the_other_nodes_as_not_matching(specs, nodes):
    plan = plan_capacity([rec("kube-system", "kube-proxy", "kube-proxy", 7800, 64)],
                         specs, nodes, [])
    msgs = {(p.node, p.message) for p in plan.scenarios["recommended"].pending}
    # 7800m + calico 250m + speaker 100m > 7910m on each node, one pod per node.
    expected = ("0/2 nodes are available: 1 Insufficient cpu, "
                "1 node(s) didn't match Pod's node affinity/selector.")
    assert msgs == {("duckboat-01", expected), ("duckboat-02", expected)}


def test_three_333m_pods_fit_one_core_the_fourth_waits():
    one_core = pd.DataFrame([{"node": "n1", "cpu_allocatable_cores": 1.0,
                              "memory_allocatable_bytes": 2**30, "pods_allocatable": 110}])
    for replicas, waiting in ((3, 0), (4, 1)):
        specs = pd.DataFrame([{"namespace": "a", "workload": "w", "workload_kind": "Deployment",
                               "container": "c", "cpu_request_cores": 0.333,
                               "memory_request_bytes": 1.0, "replicas": replicas}])
        plan = plan_capacity([], specs, one_core, [])
        got = pending(plan, "current")
        assert sum(p[2] for p in got) == waiting
        if waiting:
            assert got[0][4] == "0/1 nodes are available: 1 Insufficient cpu."


def test_too_many_pods(specs, nodes):
    full = nodes.assign(pods_allocatable=8.0)  # 16 pods, 2 x 8 slots, one more wanted
    plan = plan_capacity([], specs.assign(replicas=None), full, [])
    assert pending(plan, "current") == []
    extra = pd.concat([specs, specs[specs["workload"] == "kuard"].assign(pod="kuard-2")])
    plan = plan_capacity([], extra, full, [])
    # Every pod but the DaemonSets' may be the one left over; exactly one is, for pod slots.
    assert [p[2:] for p in pending(plan, "current")] == [
        (1, "pods", "0/2 nodes are available: 2 Too many pods.")]


def test_observed_failed_scheduling_is_explained_by_the_current_requests(nodes):
    # The real pod list with grafana asking for 8 cores: the pod is Pending, and its
    # PodScheduled condition carries the scheduler's message.
    payload = copy.deepcopy(load("honeycomb_pods.json"))
    pod = next(p for p in payload["items"] if p["metadata"]["name"].startswith("grafana"))
    for c in pod["spec"]["containers"]:
        if c["name"] == "grafana":
            c["resources"] = {"requests": {"cpu": "8", "memory": "256Mi"}}
    pod["spec"].pop("nodeName", None)
    pod["status"] = {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "lastTransitionTime": "2020-08-28T10:00:00Z",
        "message": "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are "
                   "available: 2 No preemption victims found for incoming pod.",
    }]}
    specs, events = parse_pods(payload)
    plan = plan_capacity([], specs, nodes, [], events=events)
    assert plan.pending_check == [{"namespace": "olly", "workload": "grafana",
                                   "observed": ["cpu"], "predicted": ["cpu"], "agrees": True}]
    assert pending(plan, "current")[0][4] == "0/2 nodes are available: 2 Insufficient cpu."
    html = plan_fragment(plan)
    assert "FailedScheduling seen in the cluster" in html
    assert "<td>olly/grafana</td><td>cpu</td><td>cpu</td><td>yes</td>" in html
    # With a recommendation of 500m the same pod would schedule.
    plan = plan_capacity([rec("olly", "grafana", "grafana", 500, 256)], specs, nodes, [],
                         events=events)
    assert pending(plan) == []


def test_init_containers_count_alone_not_added_to_the_app_containers(specs, nodes):
    # calico-node runs its init containers one at a time before the 250m app container: the
    # pod needs max(init, app).  7700m + the speaker's 100m fit a 7910m node; summed with
    # the app container (7950m) it would not.  8000m does not fit a node at all.
    init = specs[(specs["workload"] == "calico-node") & specs["init_container"]]
    name = str(init["container"].iloc[0])
    plan = plan_capacity([rec("kube-system", "calico-node", name, 7700, 64)], specs, nodes, [])
    assert pending(plan) == []
    plan = plan_capacity([rec("kube-system", "calico-node", name, 8000, 64)], specs, nodes, [])
    assert {(p.workload, p.node, p.lacks) for p in plan.scenarios["recommended"].pending} == {
        ("calico-node", "duckboat-01", "cpu"), ("calico-node", "duckboat-02", "cpu")}


def test_cordoned_and_not_ready_nodes_take_no_pods(specs, nodes):
    cordoned = nodes.assign(unschedulable=[True, False])
    plan = plan_capacity([], specs, cordoned, [])
    assert [n.node for n in plan.scenarios["current"].nodes] == ["duckboat-02"]
    assert "left out 1 cordoned node(s): duckboat-01" in plan.notes
    # Unknown readiness is not evidence against a node.
    unknown = nodes.assign(ready=[None, None])
    assert len(plan_capacity([], specs, unknown, []).scenarios["current"].nodes) == 2
