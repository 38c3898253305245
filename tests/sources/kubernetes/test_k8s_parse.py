"""Kubernetes payload parsers on every real payload in tests/fixtures/kubernetes (SOURCES.md
there), and on arbitrary or garbled input (hypothesis): bad input is an InputError, never
another exception."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quotatune import model
from quotatune.model.errors import InputError
from quotatune.sources.kubernetes.events import parse_events
from quotatune.sources.kubernetes.nodes import NODE_COLUMNS, parse_nodes, read_nodes_file
from quotatune.sources.kubernetes.owners import OwnerIndex, pod_owners
from quotatune.sources.kubernetes.parse import parse_pods
from quotatune.sources.kubernetes.usage import (
    parse_pod_metrics,
    parse_prometheus_usage,
    parse_stats_summary,
)
from tests.conftest import FIXTURES
from tests.support.contracts import assert_well_formed

FIX = FIXTURES / "kubernetes"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


def spec_of(specs: pd.DataFrame, pod: str, container: str) -> pd.Series:
    rows = specs[(specs["pod"] == pod) & (specs["container"] == container)]
    assert len(rows) == 1, (pod, container)
    return rows.iloc[0]


# ------------------------------------------------------------------------------- pods
def test_oomkilled_pod_gives_a_termination_event_with_exit_137_and_its_finish_time():
    specs, events = parse_pods(load("kubeshark_worker_pod_lastState_OOMKilled.json"))
    row = spec_of(specs, "kubeshark-worker-daemon-set-hvn25", "kubeshark-worker")
    assert (row.workload, row.workload_kind) == ("kubeshark-worker-daemon-set", "DaemonSet")
    assert row.cpu_request_cores == pytest.approx(0.05)
    assert row.cpu_limit_cores == pytest.approx(0.75)
    assert row.memory_request_bytes == 50 * 2**20
    assert row.memory_limit_bytes == 2**30
    assert row.restarts == 1
    assert row.node == "mizu"
    (ev, start) = events.itertuples()
    assert (ev.kind, ev.reason, ev.exit_code, ev.oom_killed) == (
        "termination", "OOMKilled", 137, True)
    assert ev.timestamp == pd.Timestamp("2023-05-06T21:03:57Z")
    # Running again since: the current run's start, which ages the kill into history.
    assert (start.kind, start.timestamp) == ("start", pd.Timestamp("2023-05-06T21:03:58Z"))


def test_crash_loop_pod_gives_waiting_and_termination_events():
    now = pd.Timestamp("2026-01-13T18:41:00Z")
    specs, events = parse_pods(load("newrelic_minikube_1_34_pod_CrashLoopBackOff.json"), now=now)
    row = spec_of(specs, "e2e-container-creating", "alpine")
    assert row.waiting_reason == "CrashLoopBackOff"
    assert (row.workload, row.workload_kind) == ("e2e-container-creating", "Pod")  # bare pod
    assert row.memory_limit_bytes == 5_000_000  # "5M" is decimal
    assert row.cpu_limit_cores == pytest.approx(0.005)
    waiting = events[events["kind"] == "waiting"].iloc[0]
    assert waiting.reason == "CrashLoopBackOff"
    assert "back-off 20s" in waiting.message
    assert waiting.timestamp == now
    term = events[events["kind"] == "termination"].iloc[0]
    assert (term.reason, term.exit_code, term.oom_killed) == ("Completed", 0, False)


def test_honeycomb_pods_resolve_owners_and_keep_init_containers_and_exit_137_without_oom():
    specs, events = parse_pods(load("honeycomb_pods.json"))
    assert list(specs.columns) == model.SPEC_COLUMNS
    kinds = dict(zip(specs["workload"], specs["workload_kind"], strict=False))
    assert kinds["phpmyadmin"] == "Deployment"  # through the ReplicaSet name
    assert kinds["speaker"] == "DaemonSet"
    init = spec_of(specs, "calico-node-h2bjp", "install-cni")
    assert bool(init.init_container) is True
    sidecar = spec_of(specs, "grafana-7db5dff8ff-vwrnf", "grafana-sc-dashboard")
    assert bool(sidecar.init_container) is False
    speaker = spec_of(specs, "speaker-cpxhz", "speaker")
    assert speaker.cpu_request_cores == pytest.approx(0.1)
    assert speaker.memory_limit_bytes == 100 * 2**20
    assert speaker.restarts == 54
    php = events[events["pod"] == "phpmyadmin-54c7cdbdc7-8qnbr"].iloc[0]
    # exit 137 with reason "Error": a SIGKILL, not recorded by the kernel as an OOM kill
    assert (php.exit_code, php.reason, bool(php.oom_killed)) == (137, "Error", False)
    assert len(specs) == 16 and specs["pod"].nunique() == 11


def test_newrelic_pods_cover_every_workload_kind():
    specs, _ = parse_pods(load("newrelic_1_35_pods.json"))
    kinds = {(w, k) for w, k in zip(specs["workload"], specs["workload_kind"], strict=True)}
    assert ("e2e-deployment", "Deployment") in kinds
    assert ("e2e-statefulset", "StatefulSet") in kinds
    assert ("e2e-daemonset", "DaemonSet") in kinds
    assert ("e2e-failjob", "Job") in kinds
    assert ("e2e-cronjob", "CronJob") in kinds  # job name minus the schedule suffix
    assert ("storage-provisioner", "Pod") in kinds
    assert ("kube-scheduler-datagen-1-35", "Pod") in kinds


def test_listed_replicasets_and_jobs_decide_the_owner_over_name_guessing():
    pods = load("newrelic_1_35_pods.json")
    index = OwnerIndex()
    index.add([{"metadata": {"namespace": "scraper", "name": "e2e-deployment-79967c5968",
                             "ownerReferences": [{"kind": "Deployment", "name": "compute",
                                                  "controller": True}]}}], "ReplicaSet")
    index.add([{"metadata": {"namespace": "scraper", "name": "e2e-failjob",
                             "ownerReferences": [{"kind": "CronJob", "name": "nightly",
                                                  "controller": True}]}},
               {"metadata": {"namespace": "scraper", "name": "e2e-cronjob-29707813"}}], "Job")
    specs, _ = parse_pods(pods, owners=index)
    owners = pod_owners(specs)
    assert owners[("scraper", "e2e-deployment-79967c5968-8bnn8")] == ("Deployment", "compute")
    assert owners[("scraper", "e2e-failjob-64h4g")] == ("CronJob", "nightly")
    # a listed Job without an owner is a plain Job, whatever its name looks like
    assert owners[("scraper", "e2e-cronjob-29707813-dhlr2")] == ("Job", "e2e-cronjob-29707813")


def test_env_values_never_enter_the_spec_frame_but_names_and_jvm_flags_do():
    pod = load("kubeshark_worker_pod_lastState_OOMKilled.json")
    c = pod["spec"]["containers"][0]
    c["env"] = [
        {"name": "JAVA_TOOL_OPTIONS", "value": "-Xmx768m -XX:+AlwaysPreTouch"},
        {"name": "DB_PASSWORD", "value": "s3cr3t-value"},
        {"name": "GREETING", "value": "grüezi"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}},
    ]
    specs, _ = parse_pods(pod)
    row = specs.iloc[0]
    assert row.env_names == ("API_TOKEN", "DB_PASSWORD", "GREETING", "JAVA_TOOL_OPTIONS")
    assert row.jvm_options == ("-Xmx768m", "-XX:+AlwaysPreTouch")
    assert row.non_ascii_env == ("GREETING",)
    text = specs.to_json()
    assert "s3cr3t-value" not in text and "grüezi" not in text and "tok" not in text


def test_unschedulable_condition_becomes_a_scheduling_event():
    pod = load("kubeshark_worker_pod_lastState_OOMKilled.json")
    pod["status"] = {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "lastTransitionTime": "2023-05-06T16:54:37Z",
        "message": "0/3 nodes are available: 3 Insufficient memory."}]}
    specs, events = parse_pods(pod)
    (ev,) = events.itertuples()
    assert (ev.kind, ev.reason, ev.container) == ("scheduling", "Unschedulable", "")
    assert "Insufficient memory" in ev.message
    assert specs.iloc[0].phase == "Pending"


def test_a_bad_quantity_names_the_pod_container_and_field():
    pod = load("kubeshark_worker_pod_lastState_OOMKilled.json")
    pod["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1 GB"
    with pytest.raises(InputError, match=r"kubeshark-worker.*limits\.memory"):
        parse_pods(pod)


# ----------------------------------------------------------------------------- events
def test_events_keep_scheduling_oom_and_backoff_and_drop_normal_ones():
    specs, _ = parse_pods(load("honeycomb_pods.json"))
    ev = parse_events(load("events.json"), owners=pod_owners(specs))
    assert sorted(ev["reason"]) == ["BackOff", "FailedScheduling", "OOMKilling"]
    sched = ev[ev["reason"] == "FailedScheduling"].iloc[0]
    assert sched.kind == "scheduling" and "Insufficient cpu" in sched.message
    assert sched.timestamp == pd.Timestamp("2026-06-26T10:12:01.412187Z")  # eventTime only
    assert sched.workload == "e2e-hpa"
    backoff = ev[ev["reason"] == "BackOff"].iloc[0]
    assert (backoff.workload, backoff.container) == ("phpmyadmin", "phpmyadmin")
    oom = ev[ev["reason"] == "OOMKilling"].iloc[0]
    assert oom.kind == "oom-event" and bool(oom.oom_killed)


def test_events_k8s_io_v1_shape_is_read_too():
    core = load("events.json")["items"][0]  # the BackOff event, in the newer API's shape
    new = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": core["metadata"],
           "regarding": core["involvedObject"], "reason": core["reason"], "note": core["message"],
           "deprecatedLastTimestamp": core["lastTimestamp"], "type": "Warning"}
    (ev,) = parse_events({"items": [new]}).itertuples()
    assert (ev.reason, ev.pod, ev.container) == ("BackOff", "phpmyadmin-54c7cdbdc7-8qnbr",
                                                 "phpmyadmin")
    assert ev.message == "Back-off restarting failed container"
    assert ev.timestamp == pd.Timestamp("2020-08-28T08:48:25Z")


# ------------------------------------------------------------------------------ nodes
def test_nodes_frame_has_capacity_and_allocatable_in_exact_units():
    nodes = parse_nodes(load("honeycomb_nodes.json"))
    assert list(nodes.columns) == NODE_COLUMNS
    n = nodes.set_index("node").loc["duckboat-01"]
    assert n.cpu_capacity_cores == 8 and n.cpu_allocatable_cores == pytest.approx(7.91)
    assert n.memory_capacity_bytes == 32144656 * 1024
    assert n.memory_allocatable_bytes == 31127824 * 1024
    assert n.pods_allocatable == 58 and n.instance_type == "m6gd.2xlarge"
    assert n.arch == "arm64" and bool(n.ready)


def test_nodes_are_read_from_a_mixed_kubectl_list_dump():
    nodes = read_nodes_file(FIX / "kubectl_get_pods_nodes_events.json")
    assert sorted(nodes["node"]) == ["duckboat-01", "duckboat-02"]


# ------------------------------------------------------------------------------ usage
@pytest.mark.parametrize("name,containers,node", [
    ("honeycomb_stats-summary.json", 12, "duckboat-01"),  # docker runtime, 2020
    ("newrelic_1_35_stats_summary.json", 17, "datagen-1-35"),  # containerd 2.2, psi blocks
])
def test_stats_summary_gives_one_row_per_container_with_nanocores_as_cores(name, containers,
                                                                          node):
    usage = parse_stats_summary(load(name))
    assert len(usage) == containers
    assert set(usage["node"]) == {node} and set(usage["platform"]) == {"kubernetes"}
    assert (usage["cpu_cores"] >= 0).all() and (usage["memory_working_set_bytes"] > 0).all()
    assert str(usage["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_stats_summary_values_are_the_kubelet_numbers():
    usage = parse_stats_summary(load("honeycomb_stats-summary.json"))
    php = usage[usage["container"] == "phpmyadmin"].iloc[0]
    assert php.cpu_cores == pytest.approx(19816850 / 1e9)
    assert php.memory_working_set_bytes == 2079113216
    assert php.workload == "phpmyadmin"
    assert php.timestamp == pd.Timestamp("2020-09-16T03:30:58Z")


def test_usage_without_pod_specs_guesses_workloads_from_generated_name_suffixes():
    usage = parse_stats_summary(load("newrelic_1_35_stats_summary.json"))
    by_pod = dict(zip(usage["pod"], usage["workload"], strict=True))
    assert by_pod["e2e-daemonset-kb65b"] == "e2e-daemonset"  # a DaemonSet's 5-char suffix
    assert by_pod["e2e-deployment-79967c5968-8bnn8"] == "e2e-deployment"
    assert by_pod["e2e-statefulset-1"] == "e2e-statefulset"
    assert by_pod["storage-provisioner"] == "storage-provisioner"


def test_pod_metrics_quantities_are_exact():
    usage = parse_pod_metrics(load("libcloud_gke_podmetrics_list.json"))
    agent = usage[usage["container"] == "gke-metrics-agent"].iloc[0]
    assert agent.cpu_cores == pytest.approx(704595e-9)
    assert agent.memory_working_set_bytes == 24716 * 1024
    assert usage["pod"].nunique() == 10


def test_metrics_resource_single_scrape_rate_is_the_average_since_start():
    text = (FIX / "songleo_kind_metrics_resource.txt").read_text()
    usage = parse_prometheus_usage(text, pd.Timestamp("2024-01-09T16:00:00Z"))
    assert len(usage) == 12
    web = usage[usage["container"] == "awx-web"].iloc[0]
    started = 1.704801726697293e09
    assert web.cpu_cores == pytest.approx(60.11334 / (1704815757.326 - started))
    assert web.memory_working_set_bytes == 9.64734976e08
    assert web.timestamp == pd.Timestamp(1704815757326, unit="ms", tz="UTC")


def test_two_cadvisor_scrapes_give_the_counter_rate():
    text = (FIX / "newrelic_1_35_metrics_cadvisor.txt").read_text()
    # The same scrape 30 s later with every CPU counter 3 core-seconds higher: rate 0.1 core.
    later = []
    for line in text.splitlines():
        if line.startswith("container_cpu_usage_seconds_total{") and 'container=""' not in line:
            head, value, ts = line.rsplit(" ", 2)
            line = f"{head} {float(value) + 3} {int(ts) + 30_000}"
        elif line.startswith("container_memory_working_set_bytes{"):
            head, value, ts = line.rsplit(" ", 2)
            line = f"{head} {value} {int(ts) + 30_000}"
        later.append(line)
    usage = parse_prometheus_usage("\n".join(later), pd.Timestamp("2026-06-26T10:15:00Z"),
                                   previous=text)
    assert len(usage) == 17
    assert usage["cpu_cores"].to_numpy() == pytest.approx(0.1)


def test_cadvisor_skips_pod_and_pause_level_series():
    text = (FIX / "newrelic_1_35_metrics_cadvisor.txt").read_text()
    usage = parse_prometheus_usage(text, pd.Timestamp("2026-06-26T10:15:00Z"))
    assert "" not in set(usage["container"]) and "POD" not in set(usage["container"])
    assert usage.groupby(["namespace", "pod", "container"]).size().max() == 1


# -------------------------------------------------------------- kube-state-metrics
def test_ksm_text_gives_the_same_owners_and_requests_as_the_pods_of_that_node():
    from quotatune.sources.kubernetes.ksm import parse_ksm

    specs, events, nodes = parse_ksm((FIX / "newrelic_1_35_ksm_metrics.txt").read_text())
    pod_specs, _ = parse_pods(load("newrelic_1_35_pods.json"))
    cols = ["namespace", "pod", "container", "workload", "workload_kind", "cpu_request_cores",
            "memory_limit_bytes"]
    both = specs[cols].merge(pod_specs[cols], on=["namespace", "pod", "container"],
                             suffixes=("_ksm", "_pod"))
    assert len(both) >= 20  # the ksm scrape and the kubelet /pods are of the same minikube
    for col in cols[3:]:
        a, b = both[f"{col}_ksm"], both[f"{col}_pod"]
        assert ((a == b) | (a.isna() & b.isna())).all(), col
    term = events[events["kind"] == "termination"].iloc[0]
    assert (term.pod, term.reason, term.exit_code) == ("e2e-container-creating", "Completed", 0)
    assert term.timestamp == pd.Timestamp(1.782468854e09, unit="s", tz="UTC")
    pending = events[events["kind"] == "scheduling"].iloc[0]
    assert pending.pod == "e2e-container-pending" and not pd.isna(pending.timestamp)
    (node,) = nodes.itertuples()
    assert (node.node, node.cpu_allocatable_cores, node.pods_allocatable) == (
        "datagen-1-35", 14, 110)
    assert node.memory_allocatable_bytes == 8.216887296e09


def test_nodes_file_may_be_kube_state_metrics_text():
    nodes = read_nodes_file(FIX / "newrelic_1_35_ksm_metrics.txt")
    assert nodes["node"].tolist() == ["datagen-1-35"]


def test_node_metrics_list():
    from quotatune.sources.kubernetes.nodes import parse_node_metrics

    (row,) = parse_node_metrics(load("libcloud_gke_nodemetrics_list.json")).itertuples()
    assert row.node == "gke-cluster-3-default-pool-76fd57f7-l83v"
    assert row.cpu_cores == pytest.approx(0.110691045)
    assert row.memory_working_set_bytes == 801112 * 1024


def test_node_metrics_with_negative_usage_are_refused_in_one_line():
    from quotatune.sources.kubernetes.nodes import parse_node_metrics

    payload = load("libcloud_gke_nodemetrics_list.json")
    payload["items"][0]["usage"]["cpu"] = "-1"
    with pytest.raises(InputError, match="negative or infinite usage"):
        parse_node_metrics(payload)


# ------------------------------------------------------------------------ hypothesis
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=20,
)
def _node_metrics(p: Any) -> Any:
    from quotatune.sources.kubernetes.nodes import parse_node_metrics

    return parse_node_metrics(p)


PARSERS = [
    lambda p: parse_pods(p),
    lambda p: parse_events(p),
    lambda p: parse_nodes(p),
    lambda p: parse_stats_summary(p, pd.Timestamp("2026-01-01T00:00:00Z")),
    lambda p: parse_pod_metrics(p),
    _node_metrics,
]
REAL = {
    0: ["honeycomb_pods.json", "newrelic_1_35_pods.json",
        "kubeshark_worker_pod_lastState_OOMKilled.json",
        "newrelic_minikube_1_34_pod_CrashLoopBackOff.json", "kubectl_get_pods_nodes_events.json"],
    1: ["events.json"],
    2: ["honeycomb_nodes.json"],
    3: ["honeycomb_stats-summary.json", "newrelic_1_35_stats_summary.json"],
    4: ["libcloud_gke_podmetrics_list.json"],
    5: ["libcloud_gke_nodemetrics_list.json"],
}
_LOADED = {name: load(name) for names in REAL.values() for name in names}


def _ok_or_input_error(fn: Any, payload: Any) -> None:
    try:
        result = fn(payload)
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert_well_formed(result)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(PARSERS) - 1), payload=json_values)
def test_arbitrary_json_is_parsed_or_rejected_with_one_line(which, payload):
    _ok_or_input_error(PARSERS[which], payload)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            out += _paths(v, prefix + (i,))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.sampled_from(sorted(REAL)), replacement=json_values)
def test_real_payloads_with_one_field_garbled_are_parsed_or_rejected(data, which, replacement):
    name = data.draw(st.sampled_from(REAL[which]))
    payload = copy.deepcopy(_LOADED[name])
    path = data.draw(st.sampled_from(_paths(payload)[:400]))
    if not path:
        payload = replacement
    else:
        node = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = replacement
    _ok_or_input_error(PARSERS[which], payload)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_arbitrary_text_as_prometheus_metrics_is_parsed_or_rejected(text):
    _ok_or_input_error(lambda t: parse_prometheus_usage(t, pd.Timestamp("2026-01-01", tz="UTC")),
                       text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(
    (FIX / "newrelic_1_35_ksm_metrics.txt").read_text().splitlines()), max_size=40),
    st.text(alphabet=' {}",=#\n0123456789.eE+-aN_kube', max_size=20))
def test_shuffled_and_corrupted_ksm_lines_are_parsed_or_rejected(lines, junk):
    from quotatune.sources.kubernetes.ksm import parse_ksm

    _ok_or_input_error(parse_ksm, "\n".join(lines) + junk)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(
    (FIX / "songleo_kind_metrics_resource.txt").read_text().splitlines()), max_size=30),
    st.text(alphabet=' {}",=#\n0123456789.eE+-aN', max_size=20))
def test_shuffled_and_corrupted_real_metrics_lines_are_parsed_or_rejected(lines, junk):
    text = "\n".join(lines) + junk
    _ok_or_input_error(lambda t: parse_prometheus_usage(t, pd.Timestamp("2026-01-01", tz="UTC")),
                       text)


# ------------------------------------------------------------- file importers, fuzzed
@settings(max_examples=150, deadline=None)
@given(fmt=st.sampled_from(["kubectl", "stats-summary", "kubelet-metrics", "ksm"]),
       raw=st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_file_given_to_a_kubernetes_importer_is_read_or_one_line_error(fmt, raw):
    import tempfile

    from quotatune.sources.registry import import_files

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "input"
        path.write_bytes(raw)
        try:
            import_files([path], fmt)
        except InputError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)


def test_a_sample_time_beyond_what_a_timestamp_can_hold_is_dropped_not_raised() -> None:
    """Found by fuzzing: a corrupted millisecond time (an extra digit) overflowed pandas."""
    text = (
        'container_cpu_usage_seconds_total{container="a",namespace="n",pod="p-0"} '
        "176.7 17048157627400000\n"
        'container_memory_working_set_bytes{container="a",namespace="n",pod="p-0"} '
        "3.7e+07 17048157627400000\n"
    )
    usage = parse_prometheus_usage(text, pd.Timestamp("2026-01-01", tz="UTC"))
    assert usage.empty


@pytest.mark.parametrize("value", [-1, "-1", "-250m", "-1Gi"])
def test_a_negative_request_or_limit_is_one_input_error(value) -> None:
    pod = json.loads((FIX / "newrelic_minikube_1_34_pod_CrashLoopBackOff.json").read_text())
    pod["spec"]["containers"][0].setdefault("resources", {}).setdefault("limits", {})
    pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] = value
    with pytest.raises(InputError, match="negative quantity|resources.limits.cpu"):
        parse_pods(pod)
