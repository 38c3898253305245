"""``quotatune plan`` through the real entry point (``python -m quotatune``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, run_cli
from tests.support.k8s_standin import StandIn, honeycomb_cluster, kubeconfig

PODS = str(FIXTURES / "capacity" / "honeycomb_pods.json")
NODES = str(FIXTURES / "capacity" / "honeycomb_nodes.json")


def one_error_line(run) -> str:
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quotatune: error: "), run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]


def test_json_plan_on_the_captured_cluster():
    run = run_cli("plan", "--from", PODS, "--nodes", NODES, "--node-shape", "4cpu/16Gi",
                  "-o", "json")
    assert run.code == 0, run.stderr
    plan = json.loads(run.stdout)
    assert plan["nodes_known"] is True
    cur = plan["scenarios"]["current"]
    assert cur["pods"] == 16 and cur["pending_pods"] == 0
    assert [n["node"] for n in cur["nodes"]] == ["duckboat-01", "duckboat-02"]
    assert [n["cpu_allocatable_millicores"] for n in cur["nodes"]] == [7910, 7910]
    (count,) = cur["node_counts"]
    assert (count["shape"], count["nodes"], count["method"], count["gap"]) == (
        "4cpu/16Gi", 1, "ffd", 0)
    assert "no usage samples" in run.stderr


def test_table_plan_without_nodes_says_it_only_counts_nodes():
    # The second shape without its own --node-shape, as people type it.
    run = run_cli("plan", "--from", PODS, "--node-shape", "1cpu/2Gi", "2cpu/4Gi")
    assert run.code == 0, run.stderr
    assert "no nodes given" in run.stdout
    assert "Nodes needed per shape" in run.stdout
    assert "1cpu/2Gi" in run.stdout and "2cpu/4Gi" in run.stdout
    assert "Requested / allocatable per node" not in run.stdout


def test_yaml_output_is_the_quota_manifests():
    run = run_cli("plan", "--from", PODS, "--nodes", NODES, "--max-surge", "100%", "-o", "yaml")
    assert run.code == 0, run.stderr
    docs = [d for d in yaml.safe_load_all(run.stdout) if d]
    quota = next(d for d in docs if d["kind"] == "ResourceQuota"
                 and d["metadata"]["namespace"] == "metallb-system")
    # controller: 1 replica + 100 % surge = 2 pods; speaker DaemonSet on 2 nodes: 2 pods.
    assert quota["spec"]["hard"] == {"pods": "4", "requests.cpu": "400m",
                                     "requests.memory": "400Mi", "limits.cpu": "400m",
                                     "limits.memory": "400Mi"}


def test_html_escapes_every_name(tmp_path: Path):
    payload = json.loads(Path(PODS).read_text())
    pod = copy.deepcopy(payload["items"][3])  # the metallb controller, with requests
    # No '/': a namespace cannot hold one (the separator of ns/workload/container).
    pod["metadata"]["namespace"] = "<img src=x onerror=alert(1)>"
    payload["items"].append(pod)
    f = tmp_path / "pods.json"
    f.write_text(json.dumps(payload))
    run = run_cli("plan", "--from", str(f), "--nodes", NODES, "--node-shape", "1cpu/1Gi",
                  "-o", "html")
    assert run.code == 0, run.stderr
    assert "<img src=x" not in run.stdout
    assert "&lt;img src=x onerror=alert(1)&gt;" in run.stdout
    assert run.stdout.startswith("<!doctype html>") and "Plotly.newPlot" in run.stdout


def test_prices_and_docker_host(tmp_path: Path):
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"NCPU": 2, "MemTotal": 4 << 30, "ServerVersion": "20.10.24"}))
    run = run_cli("plan", "--from", PODS, "--nodes", NODES, "--price-core-hour", "0.04",
                  "--price-gib-hour", "0.005", "--docker-info", str(info), "-o", "json")
    assert run.code == 0, run.stderr
    plan = json.loads(run.stdout)
    assert plan["savings"]["prices"] == {"core_hour": 0.04, "gib_hour": 0.005}
    assert plan["savings"]["total"]["cost_per_month"] == 0.0  # nothing recommended yet
    assert plan["docker"]["host_cpu_millicores"] == 2000


def test_nodes_through_a_kubeconfig_context(tmp_path: Path):
    with StandIn(honeycomb_cluster()) as api:
        kc = kubeconfig(tmp_path / "kubeconfig", api.url)
        run = run_cli("plan", "--from", PODS, "--context", "standin", "--kubeconfig", str(kc),
                      "-o", "json")
        assert api.methods() == {"GET"}
    assert run.code == 0, run.stderr
    plan = json.loads(run.stdout)
    assert [n["node"] for n in plan["scenarios"]["current"]["nodes"]] == [
        "duckboat-01", "duckboat-02"]


@pytest.mark.parametrize(("args", "needle"), [
    (["--node-shape", "4cpu-16Gi"], "bad --node-shape '4cpu-16Gi'"),
    (["--node-shape", "0cpu/16Gi"], "above zero"),
    (["--max-surge", "lots"], "bad --max-surge 'lots'"),
    (["-o", "xml"], "unknown output 'xml'"),
    (["--nodes", PODS, "--context", "x"], "not both"),
    (["--node-shape", "99999999999999999cpu/16Gi"],
     "bad --node-shape '99999999999999999cpu/16Gi': CPU is out of range"),
    (["--node-shape", "4cpu/16Gi/99999999999999999999"], "pods is out of range"),
    (["--node-shape", "4cpu/99999999999999999999Gi"], "quantity out of range"),
    (["--max-surge", "99999999999999999999"], "bad --max-surge '99999999999999999999'"),
    (["--price-core-hour", "inf", "-o", "json"], "bad --price-core-hour inf"),
    (["--price-gib-hour", "inf"], "bad --price-gib-hour inf"),
])
def test_bad_flags_are_one_line_and_exit_2(args, needle):
    line = one_error_line(run_cli("plan", "--from", PODS, *args))
    assert needle in line


def test_a_node_shape_takes_the_exponent_form_of_a_quantity_as_nodes_do():
    run = run_cli("plan", "--from", PODS, "--node-shape", "1e3/1e12", "-o", "json")
    assert run.code == 0, run.stderr
    counts = json.loads(run.stdout)["scenarios"]["current"]["node_counts"]
    assert [(c["shape"], c["nodes"]) for c in counts] == [("1e3/1e12", 1)]


def node_list(cpu: str) -> dict[str, object]:
    return {"kind": "List", "items": [{
        "metadata": {"name": "n1"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"}}}]}


@pytest.mark.parametrize(("cpu", "needle"), [
    ("99999999999999999", "node 'n1': allocatable cpu 1e+17 cores is out of range"),
    ("-4", "node 'n1': allocatable cpu -4 cores must be above zero"),
    ("0", "node 'n1': allocatable cpu 0 cores must be above zero"),
])
def test_a_nodes_file_with_an_impossible_allocatable_is_one_line(tmp_path: Path, cpu: str,
                                                                 needle: str):
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps(node_list(cpu)))
    line = one_error_line(run_cli("plan", "--from", PODS, "--nodes", str(path)))
    assert f"--nodes {path}: {needle}" in line


def test_bad_nodes_file_is_one_line(tmp_path: Path):
    bad = tmp_path / "nodes.json"
    bad.write_text("{not json")
    assert str(bad) in one_error_line(run_cli("plan", "--from", PODS, "--nodes", str(bad)))
    bad.write_text(json.dumps({"docker": "info"}))
    assert "NCPU" in one_error_line(run_cli("plan", "--from", PODS, "--docker-info", str(bad)))


def test_a_node_name_no_cluster_allows_is_refused_in_nodes_and_pods_files(tmp_path: Path):
    nodes = node_list("4")
    nodes["items"][0]["metadata"]["name"] = "n1\u202e"  # type: ignore[index]
    (tmp_path / "nodes.json").write_text(json.dumps(nodes))
    line = one_error_line(run_cli("plan", "--from", PODS, "--nodes",
                                  str(tmp_path / "nodes.json")))
    assert f"{tmp_path / 'nodes.json'}: column 'node': name 'n1\\u202e' holds \\u202e " \
           "(right-to-left override)" in line
    payload = json.loads(Path(PODS).read_text())
    pod = next(i for i in payload["items"] if i["spec"].get("nodeName"))
    pod["spec"]["nodeName"] = "duckboat-01\x1b[2J"
    (tmp_path / "pods.json").write_text(json.dumps(payload))
    line = one_error_line(run_cli("plan", "--from", str(tmp_path / "pods.json"), "--nodes",
                                  NODES))
    assert "pods.json: column 'node': name 'duckboat-01\\x1b[2J' holds \\x1b" in line


def usage_csv(path: Path) -> Path:
    """Two days of 5-minute samples for the metallb controller (20-30m CPU, 40-48 MiB)."""
    rows = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_working_set_bytes"]
    for i in range(2 * 288):
        rows.append(f"{1598572800 + 300 * i},metallb-system,controller,"
                    f"controller-5c9894b5cd-r66xh,controller,{0.02 + (i % 11) / 1000:.3f},"
                    f"{(40 + i % 9) * 2**20}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_plan_uses_the_recommendations_of_recommend(tmp_path: Path):
    usage = str(usage_csv(tmp_path / "usage.csv"))
    recs = json.loads(run_cli("recommend", "--from", usage, PODS, "-o", "json").stdout)
    (ctl,) = [r for r in recs if r["workload"] == "controller"]
    assert ctl["status"] == "ok" and ctl["cpu_request_millicores"] < 100
    run = run_cli("plan", "--from", usage, PODS, "--nodes", NODES, "-o", "json")
    assert run.code == 0, run.stderr
    plan = json.loads(run.stdout)
    freed = next(w for w in plan["savings"]["workloads"] if w["workload"] == "controller")
    # The controller's current request is 100m / 100Mi, one replica.
    assert freed["cores_freed"] == round((100 - ctl["cpu_request_millicores"]) / 1000, 3)
    assert freed["gib_freed"] == round((100 - ctl["memory_request_mib"]) / 1024, 3)
    cur = plan["scenarios"]["current"]["cpu_requested_millicores"]
    new = plan["scenarios"]["recommended"]["cpu_requested_millicores"]
    assert cur - new == 100 - ctl["cpu_request_millicores"]


def test_plan_for_one_namespace(tmp_path: Path):
    run = run_cli("plan", "metallb-system/", "--from", PODS, "--nodes", NODES, "-o", "json")
    assert run.code == 0, run.stderr
    plan = json.loads(run.stdout)
    assert [q["namespace"] for q in plan["quotas"]] == ["metallb-system"]
    assert plan["scenarios"]["current"]["pods"] == 3  # controller + speaker on 2 nodes


def test_plan_from_a_history_store(tmp_path: Path):
    store = tmp_path / "data"
    imported = run_cli("import", PODS, "--store", str(store))
    assert imported.code == 0, imported.stderr
    run = run_cli("plan", "--store", str(store), "--nodes", NODES, "-o", "json")
    assert run.code == 0, run.stderr
    plan = json.loads(run.stdout)
    assert plan["scenarios"]["current"]["pods"] == 16
    assert plan["scenarios"]["current"]["cpu_requested_millicores"] == 800


def test_no_store_is_one_line(tmp_path: Path):
    line = one_error_line(run_cli("plan", "--store", str(tmp_path / "nothing"), "--nodes", NODES))
    assert "no history store" in line
