"""Namespace quotas, savings, node counts per shape and Docker host fit, on the real honeycomb
cluster (tests/fixtures/capacity) with hand-checked numbers."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quotatune.analysis.capacity.plan import parse_shape, plan_capacity
from quotatune.analysis.capacity.pods import build_workloads
from quotatune.analysis.capacity.quotas import surge_pods
from quotatune.model import Current, Recommendation
from quotatune.model.capacity import HostCapacity, Prices
from quotatune.model.errors import InputError
from quotatune.sources.kubernetes.nodes import parse_nodes
from quotatune.sources.kubernetes.parse import parse_pods
from tests.conftest import FIXTURES

CAP = FIXTURES / "capacity"
MI = 1 << 20


@pytest.fixture(scope="module")
def specs() -> pd.DataFrame:
    return parse_pods(json.loads((CAP / "honeycomb_pods.json").read_text()))[0]


@pytest.fixture(scope="module")
def nodes() -> pd.DataFrame:
    return parse_nodes(json.loads((CAP / "honeycomb_nodes.json").read_text()))


def rec(ns, wl, c, cpu, mem, mem_limit=None, cpu_limit=None, platform=None, current=None):
    return Recommendation(ns, wl, c, cpu, cpu_limit, mem, mem_limit, current or Current(),
                          "test", 100, 48.0, "high", "ok", platform=platform)


METALLB = [rec("metallb-system", "controller", "controller", 50, 64, 96),
           rec("metallb-system", "speaker", "speaker", 20, 32, 48)]


def test_metallb_quota_with_rollout_headroom(specs, nodes):
    plan = plan_capacity(METALLB, specs, nodes, [])
    q = next(q for q in plan.quotas if q.namespace == "metallb-system")
    # controller (Deployment, 1 replica): 1 + ceil(25 % x 1) = 2 pods; speaker (DaemonSet, no
    # surge) on 2 nodes: 2 pods.  Requests 2x50m + 2x20m, 2x64Mi + 2x32Mi; limits 2x96 + 2x48.
    assert q.hard() == {"pods": "4", "requests.cpu": "140m", "requests.memory": "192Mi",
                        "limits.memory": "288Mi"}
    # No CPU limit recommended: no limits.cpu, and no cpu in default/max (it would impose one).
    assert q.limit_range == {"default": {"memory": "72Mi"},
                             "defaultRequest": {"cpu": "35m", "memory": "48Mi"},
                             "max": {"memory": "96Mi"}}


def test_quota_yaml_is_ready_for_kubectl_apply(specs, nodes):
    plan = plan_capacity(METALLB, specs, nodes, [])
    docs = [d for d in yaml.safe_load_all(plan.quotas_yaml) if d]
    metallb = [d for d in docs if d["metadata"]["namespace"] == "metallb-system"]
    assert [d["kind"] for d in metallb] == ["ResourceQuota", "LimitRange"]
    assert all(d["apiVersion"] == "v1" and d["metadata"]["name"] == "quotatune" for d in docs)
    assert metallb[1]["spec"]["limits"][0]["type"] == "Container"
    assert metallb[0]["spec"]["hard"]["requests.memory"] == "192Mi"
    assert {d["metadata"]["namespace"] for d in docs} == {
        "default", "kube-system", "metallb-system", "mysql", "nginx", "olly", "test", "utils"}


def test_namespaces_without_any_requests_get_no_request_quota(specs, nodes):
    # A quota on requests.cpu makes every pod declare one; with nothing to default from,
    # quotatune only limits the pod count there.
    plan = plan_capacity([], specs, nodes, [])
    q = next(q for q in plan.quotas if q.namespace == "olly")
    assert q.hard() == {"pods": "2"}
    # kube-system: calico-node asks 250m; kube-proxy asks nothing and gets the LimitRange's
    # defaultRequest (250m) - both on 2 nodes: 4 x 250m.
    ks = next(q for q in plan.quotas if q.namespace == "kube-system")
    assert ks.hard()["requests.cpu"] == "1"
    assert ks.limit_range == {"defaultRequest": {"cpu": "250m"}}
    # kube-proxy and calico's three init containers declare nothing: the YAML says so.
    assert ks.defaulted == 4
    assert "# 4 container(s) declare no request" in plan.quotas_yaml


@pytest.mark.parametrize(("replicas", "kind", "surge", "extra"), [
    (1, "Deployment", 0.25, 1), (3, "Deployment", 0.25, 1), (4, "Deployment", 0.25, 1),
    (5, "Deployment", 0.25, 2), (10, "Deployment", 0.5, 5), (10, "", 0.25, 3),
    (7, "Deployment", 2, 2), (5, "StatefulSet", 0.25, 0), (5, "DaemonSet", 0.25, 0),
    (3, "Job", 0.25, 0),
])
def test_max_surge_rounds_up_like_kubernetes(replicas, kind, surge, extra):
    specs = pd.DataFrame([{"namespace": "a", "workload": "w", "workload_kind": kind,
                           "container": "c", "cpu_request_cores": 0.1, "replicas": replicas}])
    (w,) = build_workloads([], specs)
    assert surge_pods(w, surge) == extra


def test_savings_per_workload_namespace_and_cost(specs, nodes):
    prices = Prices(core_hour=0.04, gib_hour=0.005)
    plan = plan_capacity(METALLB, specs, nodes, [], prices=prices)
    sv = plan.savings.to_dict()
    ns = next(n for n in sv["namespaces"] if n["namespace"] == "metallb-system")
    # controller 100m/100Mi -> 50m/64Mi on 1 pod; speaker 100m/100Mi -> 20m/32Mi on 2 pods:
    # 50 + 2 x 80 = 210m; 36 + 2 x 68 = 172 MiB = 0.16796875 GiB.
    assert (ns["pods"], ns["cores_freed"], ns["gib_freed"]) == (3, 0.21, 0.168)
    # 0.21 x 0.04 + 0.16796875 x 0.005 = 0.00923984375 per hour; x 730 h = 6.745...
    assert (ns["cost_per_hour"], ns["cost_per_month"]) == (0.0092, 6.75)
    top = sv["workloads"][0]
    assert (top["workload"], top["cores_freed"]) == ("speaker", 0.16)
    assert sv["total"]["cores_freed"] == 0.21


def test_an_increase_shows_as_negative_savings(specs, nodes):
    plan = plan_capacity([rec("olly", "grafana", "grafana", 300, 512)], specs, nodes, [])
    g = next(f for f in plan.savings.to_dict()["workloads"] if f["workload"] == "grafana")
    assert (g["cores_freed"], g["gib_freed"]) == (-0.3, -0.5)
    assert "cost_per_hour" not in g  # no prices given


def test_node_counts_per_shape_subtract_the_daemonsets(specs, nodes):
    shapes = [parse_shape("1cpu/1Gi"), parse_shape("500m/512Mi/4pods"), parse_shape("300m/8Gi")]
    plan = plan_capacity(METALLB, specs, nodes, shapes)
    counts = {s.shape.name: s for s in plan.scenarios["current"].shapes}
    # Current: DaemonSets take 350m/100Mi/5 pods on every node.  On 1cpu/1Gi the 6 other pods
    # (100m/100Mi + 5 x nothing) fit one node.
    assert counts["1cpu/1Gi"].result.bins == 1
    assert counts["1cpu/1Gi"].daemon_overhead == (350, 100 * MI, 5)
    # 500m/512Mi/4pods: 5 DaemonSet pods alone exceed 4 pod slots.
    assert counts["500m/512Mi/4pods"].result.bins is None
    assert "pods" in counts["500m/512Mi/4pods"].result.note
    # 300m: the DaemonSets' 350m alone do not fit.
    assert counts["300m/8Gi"].result.bins is None
    rec_counts = {s.shape.name: s for s in plan.scenarios["recommended"].shapes}
    assert rec_counts["1cpu/1Gi"].daemon_overhead == (270, 32 * MI, 5)


def test_without_nodes_the_plan_says_so_and_counts_daemonsets_per_planned_node(specs):
    plan = plan_capacity(METALLB, specs, None, [parse_shape("1cpu/1Gi")])
    assert not plan.nodes_known
    assert plan.scenarios["recommended"].nodes == ()
    assert any("no nodes given" in n for n in plan.notes)
    assert any("DaemonSets counted as 1 pod(s)" in n for n in plan.notes)


def test_docker_host_fit_sums_recommended_limits():
    recs = [rec("docker", "api", "api", 500, 512, 1024, cpu_limit=1500, platform="docker"),
            rec("docker", "db", "db", 500, 512, platform="docker")]
    fit = plan_capacity(recs, None, None, [], docker_host=HostCapacity(2, 2 << 30)).docker
    assert fit is not None
    d = fit.to_dict()
    assert (d["cpu_limits_millicores"], d["memory_limits_mib"]) == (2000, 1536)
    assert (d["fits_cpu"], d["fits_memory"]) == (True, True)  # 2000m of 2 CPUs fits exactly
    assert d["no_cpu_limit"] == ["docker/db/db"] and d["no_memory_limit"] == ["docker/db/db"]
    small = plan_capacity(recs, None, None, [], docker_host=HostCapacity(1, 1 << 30)).docker
    assert small is not None and not small.fits_cpu and not small.fits_memory


def test_docker_recommendations_are_not_packed_onto_kubernetes_nodes(nodes):
    recs = [rec("docker", "api", "api", 500, 512, platform="docker")]
    plan = plan_capacity(recs, None, nodes, [])
    assert plan.scenarios["current"].pods == 0
    assert plan.docker is None  # no host given


@pytest.mark.parametrize(("text", "cpu", "mem", "pods"), [
    ("4cpu/16Gi", 4000, 16 << 30, 110), ("3500m/15Gi/58pods", 3500, 15 << 30, 58),
    ("2/8G", 2000, 8 * 10**9, 110), ("0.5cpu/512Mi/20", 500, 512 << 20, 20),
    # The exponent form of a quantity, as a --nodes file's allocatable takes it.
    ("1e3/1e3", 1_000_000, 1000, 110), ("1.5e1cpu/2E9/4pods", 15_000, 2 * 10**9, 4),
    ("9223372036854775cpu/9223372036854775807/9223372036854775807",
     9_223_372_036_854_775_000, 2**63 - 1, 2**63 - 1),
])
def test_parse_shape(text, cpu, mem, pods):
    s = parse_shape(text)
    assert (s.cpu, s.memory, s.pods) == (cpu, mem, pods)


@pytest.mark.parametrize(("text", "why"), [
    ("9223372036854776cpu/16Gi", "CPU is out of range"),  # past int64 as millicores
    ("4cpu/9223372036854775808", "quantity out of range"),
    ("4cpu/16Gi/9223372036854775808", "pods is out of range"),
    ("1.5e3m/1Gi", "not a Kubernetes quantity: '1.5e3m'"),  # exponent or suffix, not both
])
def test_parse_shape_refuses_what_int64_cannot_hold_in_one_line(text, why):
    with pytest.raises(InputError, match=f"bad --node-shape '{re.escape(text)}': "
                                         f"{re.escape(why)}"):
        parse_shape(text)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=30))
def test_parse_shape_never_fails_with_anything_but_an_input_error(text):
    try:
        s = parse_shape(text)
    except InputError as exc:
        assert "--node-shape" in str(exc) and "\n" not in str(exc)
    else:
        assert s.cpu > 0 and s.memory > 0 and s.pods > 0


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=12))
def test_max_surge_flag_parses_or_fails_in_one_line(text):
    from quotatune.cli.plan import parse_max_surge

    try:
        v = parse_max_surge(text)
    except InputError as exc:
        assert "--max-surge" in str(exc)
    else:
        assert (isinstance(v, float) and 0 <= v <= 10) or (isinstance(v, int) and v >= 0)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=20).map(lambda b: b"\xff\xfe" + b),
                 st.builds(lambda n, m: json.dumps({"NCPU": n, "MemTotal": m}).encode(),
                           st.one_of(st.integers(), st.floats(), st.none()), st.integers())))
def test_docker_info_file_garbage_is_an_input_error(tmp_path_factory, data):
    from quotatune.pipelines.plan import read_docker_info

    f = tmp_path_factory.mktemp("info") / "info.json"
    f.write_bytes(data)
    try:
        host = read_docker_info(f)
    except InputError as exc:
        assert str(f) in str(exc) or "NCPU" in str(exc) or "docker info" in str(exc)
    else:
        assert host.ncpu > 0 and host.mem_total_bytes > 0


def test_replicas_come_from_the_pods_running_now_not_every_pod_ever_stored():
    # The store kept spec rows for 6 pods of "web" across two rollouts; only the last 3 still
    # report usage.
    specs = pd.DataFrame([{"namespace": "shop", "workload": "web", "workload_kind": "Deployment",
                           "pod": f"web-{i}", "container": "app", "cpu_request_cores": 0.25,
                           "memory_request_bytes": float(256 * MI)} for i in range(6)])
    t0 = pd.Timestamp("2026-11-20T00:00:00Z")
    usage = pd.DataFrame([
        {"timestamp": t0 + pd.Timedelta(minutes=5 * k), "namespace": "shop", "workload": "web",
         "pod": f"web-{i}", "container": "app", "cpu_cores": 0.1,
         "memory_working_set_bytes": 1e8}
        for i in range(6) for k in (range(10) if i < 3 else range(100, 110))])
    plan = plan_capacity([], specs, None, [], usage=usage)
    assert plan.scenarios["current"].pods == 3
    assert plan_capacity([], specs, None, []).scenarios["current"].pods == 6


workload_rows = st.lists(st.fixed_dictionaries({
    "namespace": st.sampled_from(["a", "b"]),
    "workload": st.sampled_from(["w1", "w2", "w3"]),
    "workload_kind": st.sampled_from(["Deployment", "DaemonSet", "StatefulSet", "", None]),
    "container": st.sampled_from(["c1", "c2"]),
    "init_container": st.booleans(),
    "cpu_request_cores": st.one_of(st.none(), st.floats(0, 4)),
    "cpu_limit_cores": st.one_of(st.none(), st.floats(0, 8)),
    "memory_request_bytes": st.one_of(st.none(), st.floats(0, 8 * 2**30)),
    "memory_limit_bytes": st.one_of(st.none(), st.floats(0, 16 * 2**30)),
    "replicas": st.one_of(st.none(), st.integers(0, 6)),
}), max_size=8)
# A node has some room of each (a node without is refused: see the test below this one).
node_rows = st.lists(st.fixed_dictionaries({
    "cpu_allocatable_cores": st.floats(0.001, 8),
    "memory_allocatable_bytes": st.floats(1, 2**34),
    "pods_allocatable": st.integers(1, 10)}), max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workload_rows, node_rows, st.sampled_from([0.25, 0.0, 1.0, 2]))
def test_any_cluster_plans_without_error_and_within_allocatable(rows, node_list, surge):
    specs = pd.DataFrame(rows) if rows else None
    nodes = pd.DataFrame([{"node": f"n{i}", **n} for i, n in enumerate(node_list)]) \
        if node_list else None
    plan = plan_capacity([], specs, nodes, [parse_shape("2cpu/4Gi/6")], max_surge=surge,
                         time_limit=1)
    for sc in plan.scenarios.values():
        placed = sum(n.requested[2] for n in sc.nodes)
        assert placed + sum(p.pods for p in sc.pending) == (sc.pods if sc.nodes else placed)
        for n in sc.nodes:
            assert all(r <= a for r, a in zip(n.requested, n.allocatable, strict=True))
        for s in sc.shapes:
            assert s.result.bins is None or s.result.bins >= s.result.lower_bound
    assert all(d is None or d["kind"] in ("ResourceQuota", "LimitRange")
               for d in yaml.safe_load_all(plan.quotas_yaml))
    json.dumps(plan.to_dict())


@pytest.mark.parametrize(("column", "value", "says"), [
    ("cpu_allocatable_cores", 0.0, "allocatable cpu 0 cores must be above zero"),
    ("cpu_allocatable_cores", 0.0004, "allocatable cpu 0.0004 cores must be above zero"),
    ("cpu_allocatable_cores", -4.0, "allocatable cpu -4 cores must be above zero"),
    ("memory_allocatable_bytes", 0.0, "allocatable memory 0 bytes must be above zero"),
    ("pods_allocatable", 0, "allocatable pods 0 must be above zero"),
    ("cpu_allocatable_cores", 1e17, "allocatable cpu 1e+17 cores is out of range"),
    ("cpu_allocatable_cores", float("inf"), "allocatable cpu inf cores is out of range"),
    ("memory_allocatable_bytes", 2.0**63, "allocatable memory 9.22337e+18 bytes is out"),
])
def test_a_node_without_room_or_past_int64_is_refused_in_one_line(column, value, says):
    node = {"node": "n1", "cpu_allocatable_cores": 4.0, "memory_allocatable_bytes": 2.0**34,
            "pods_allocatable": 110, column: value}
    with pytest.raises(InputError, match=f"^--nodes n.json: node 'n1': {re.escape(says)}"):
        plan_capacity([], None, pd.DataFrame([node]), [], nodes_from="--nodes n.json")


def test_a_node_without_a_value_has_none_of_it_as_before():
    node = {"node": "n1", "cpu_allocatable_cores": None, "memory_allocatable_bytes": 2.0**34,
            "pods_allocatable": None}
    plan = plan_capacity([], None, pd.DataFrame([node]), [])
    assert plan.scenarios["current"].nodes[0].allocatable == (0, 2**34, 110)


def test_a_workload_scaled_to_zero_has_no_pods():
    specs = pd.DataFrame([{"namespace": "a", "workload": "w", "workload_kind": "Deployment",
                           "container": "c", "cpu_request_cores": 0.5, "replicas": 0}])
    plan = plan_capacity([], specs, None, [])
    assert plan.scenarios["current"].pods == 0
    assert plan.quotas[0].hard()["pods"] == "0"


def test_memory_from_evidence_alone_leaves_the_cpu_as_it_runs():
    """A container with too little usage but an OOM floor: its CPU request and limit are
    kept, its memory limit is raised to the floor, its memory request stays."""
    specs = pd.DataFrame([{"namespace": "a", "workload": "w", "workload_kind": "Deployment",
                           "container": "c", "cpu_request_cores": 0.2, "cpu_limit_cores": 1.0,
                           "memory_request_bytes": 128 * MI,
                           "memory_limit_bytes": 256 * MI, "replicas": 2}])
    floor_only = Recommendation("a", "w", "c", None, None, None, 356, Current(), "tail", 2,
                                0.0, "none", "insufficient-data")
    (w,) = build_workloads([floor_only], specs)
    [c] = w.recommended
    assert (c.cpu_request, c.cpu_limit) == (200, 1000)
    assert (c.memory_request, c.memory_limit) == (128 * MI, 356 * MI)
    # With nothing recommended at all, the container stays as it runs.
    nothing = Recommendation("a", "w", "c", None, None, None, None, Current(), "tail", 2,
                             0.0, "none", "insufficient-data")
    (w,) = build_workloads([nothing], specs)
    assert w.recommended == w.current
