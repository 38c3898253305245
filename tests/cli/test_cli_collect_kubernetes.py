"""`quotatune collect kubernetes` and the Kubernetes file formats of `quotatune import`, run as
the real entry point against the recorded API stand-in (tests/support/k8s_standin.py)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from quotatune.store.history import Store
from tests.conftest import FIXTURES, run_cli
from tests.support.k8s_standin import StandIn, honeycomb_cluster, kubeconfig, kubelet_ahead

FIX = FIXTURES / "kubernetes"
TOKEN = "cli-bearer-s3cr3t"


@pytest.fixture
def api() -> Iterator[StandIn]:
    with StandIn(honeycomb_cluster()) as standin:
        yield standin
    assert standin.methods() <= {"GET"}


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    # a HOME without ~/.kube/config, so only what the test passes is used
    return {"HOME": str(tmp_path), "KUBECONFIG": "", **extra}


def test_collect_appends_to_the_store_and_a_second_run_adds_no_duplicates(api, tmp_path):
    kc = kubeconfig(tmp_path / "kc", api.url, token=TOKEN)
    args = ("collect", "kubernetes", "--kubeconfig", str(kc), "--store", str(tmp_path / "st"))
    first = run_cli(*args, env=env_for(tmp_path))
    assert first.code == 0, first.stderr
    assert first.stdout.startswith("collected 11 pod(s), 16 container spec(s)")
    assert "warning: kubernetes: node duckboat-02 stats summary" in first.stderr
    second = run_cli(*args, env=env_for(tmp_path))
    assert second.code == 0 and "(0 new)" in second.stdout
    usage = Store(tmp_path / "st").read_usage()
    assert len(usage) == len(usage.drop_duplicates(["namespace", "pod", "container",
                                                    "timestamp"]))
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr


def test_samples_of_a_kubelet_whose_clock_runs_ahead_are_left_out_and_counted(tmp_path):
    """duckboat-01's kubelet stamps its stats a day ahead of the clock: its 12 samples are not
    stored, a note says so in the import's words, and the 18 samples metrics.k8s.io gives
    for the other node's pods (stamped in 2021) are stored.  Collected again: nothing added,
    nothing from the future."""
    recorded = pd.Timestamp("2020-09-16T03:31:00Z")
    ahead = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1) - recorded
    with StandIn(kubelet_ahead(honeycomb_cluster(), "duckboat-01", ahead)) as skewed:
        kc = kubeconfig(tmp_path / "kc", skewed.url)
        args = ("collect", "kubernetes", "--kubeconfig", str(kc), "--store",
                str(tmp_path / "st"))
        first = run_cli(*args, env=env_for(tmp_path))
        second = run_cli(*args, env=env_for(tmp_path))
    assert first.code == 0, first.stderr
    assert "30 usage sample(s) (18 new)" in first.stdout
    assert FUTURE_NOTE.search(first.stderr), first.stderr
    assert second.code == 0 and "(0 new)" in second.stdout and FUTURE_NOTE.search(second.stderr)
    usage = Store(tmp_path / "st").read_usage()
    assert len(usage) == 18 and usage["timestamp"].max() < pd.Timestamp("2022-01-01", tz="UTC")


FUTURE_NOTE = re.compile(r"^note: ignored 12 sample\(s\) stamped in the future \(after "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\dZ\): check the source's clock$", re.M)


def test_kubeconfig_from_the_environment_and_a_namespace(api, tmp_path):
    kc = kubeconfig(tmp_path / "kc", api.url)
    r = run_cli("collect", "kubernetes", "-n", "mysql", "--store", str(tmp_path / "st"),
                env=env_for(tmp_path, KUBECONFIG=str(kc)))
    assert r.code == 0, r.stderr
    assert r.stdout.startswith("collected 1 pod(s), 1 container spec(s), 1 usage sample(s)")
    assert set(Store(tmp_path / "st").read_usage()["namespace"]) == {"mysql"}


def test_unknown_context_is_one_line_and_exit_2(api, tmp_path):
    kc = kubeconfig(tmp_path / "kc", api.url)
    r = run_cli("collect", "kubernetes", "--kubeconfig", str(kc), "--context", "prod",
                "--store", str(tmp_path / "st"), env=env_for(tmp_path))
    assert r.code == 2
    assert r.stderr == "quotatune: error: unknown Kubernetes context 'prod' in the kubeconfig\n"
    assert not api.requests


def test_unreachable_cluster_is_one_line_and_exit_2(tmp_path):
    kc = kubeconfig(tmp_path / "kc", "http://127.0.0.1:9", token=TOKEN)
    r = run_cli("collect", "kubernetes", "--kubeconfig", str(kc), "--timeout", "2",
                "--store", str(tmp_path / "st"), env=env_for(tmp_path))
    assert r.code == 2
    assert r.stderr.count("\n") == 1 and "cannot reach the Kubernetes API at" in r.stderr
    assert TOKEN not in r.stderr and "Traceback" not in r.stderr


def test_no_kubeconfig_at_all_is_one_line_and_exit_2(tmp_path):
    r = run_cli("collect", "kubernetes", "--store", str(tmp_path / "st"),
                env=env_for(tmp_path, KUBERNETES_SERVICE_HOST=""))
    assert r.code == 2 and r.stderr.count("\n") == 1
    assert "cannot load the Kubernetes configuration" in r.stderr


def test_everything_forbidden_is_one_line_naming_verb_and_resource(api, tmp_path):
    api.fault(r".", "403")
    api.fault(r"^/version", "403")  # an answer, even a refusal, means the cluster is there
    kc = kubeconfig(tmp_path / "kc", api.url)
    r = run_cli("collect", "kubernetes", "--kubeconfig", str(kc), "--store",
                str(tmp_path / "st"), env=env_for(tmp_path))
    assert r.code == 2
    assert r.stderr == ("quotatune: error: kubernetes: forbidden: need 'list' on "
                        "'replicasets' cluster-wide\n")


@pytest.mark.parametrize("name,fmt,what", [
    ("kubectl_get_pods_nodes_events.json", "kubectl", "16 spec row(s)"),
    ("honeycomb_pods.json", "kubectl", "16 spec row(s)"),
    ("honeycomb_stats-summary.json", "stats-summary", "12 new sample(s)"),
    ("newrelic_1_35_stats_summary.json", "stats-summary", "17 new sample(s)"),
    ("libcloud_gke_podmetrics_list.json", "kubectl", "18 new sample(s)"),
    ("songleo_kind_metrics_resource.txt", "kubelet-metrics", "12 new sample(s)"),
    ("newrelic_1_35_ksm_metrics.txt", "ksm", "24 spec row(s)"),
])
def test_import_detects_and_reads_kubernetes_files(tmp_path, name, fmt, what):
    r = run_cli("import", str(FIX / name), "--store", str(tmp_path / "st"))
    assert r.code == 0, r.stderr
    assert what in r.stdout
    forced = run_cli("import", str(FIX / name), "--format", fmt, "--store", str(tmp_path / "s2"))
    assert forced.code == 0 and forced.stdout.replace("s2", "st") == r.stdout


def test_a_kubectl_dump_with_nodes_says_where_the_nodes_go(tmp_path):
    r = run_cli("import", str(FIX / "kubectl_get_pods_nodes_events.json"), "--store",
                str(tmp_path / "st"))
    assert "2 node(s): pass this file to `quotatune plan --nodes`" in r.stderr
    events = Store(tmp_path / "st").read_events()
    assert {"BackOff", "OOMKilling", "FailedScheduling"} <= set(events["reason"])


@pytest.mark.parametrize("content", [
    '{"apiVersion": "v1", "kind": "List", "items": [{"metadata": {"name": "p"}, '
    '"spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "lots"}}}]}}]}',
    '{"apiVersion": "v1", "items": 7}',
    '{"node": {"nodeName": "n"}, "pods": "none"}',
    '{"apiVersion": "v1", "items": [',
])
def test_garbled_kubernetes_files_are_one_line_and_exit_2(tmp_path, content):
    path = tmp_path / "dump.json"
    path.write_text(content)
    r = run_cli("import", str(path), "--store", str(tmp_path / "st"))
    assert r.code == 2 and r.stderr.count("\n") == 1 and str(path) in r.stderr
    assert "Traceback" not in r.stderr


def test_a_gzipped_dump_imports_too(tmp_path):
    import gzip

    src = FIX / "kubeshark_worker_pod_lastState_OOMKilled.json"
    path = tmp_path / "pod.json.gz"
    path.write_bytes(gzip.compress(src.read_bytes()))
    r = run_cli("import", str(path), "--store", str(tmp_path / "st"))
    assert r.code == 0, r.stderr
    stored = Store(tmp_path / "st").read_events()
    (oom,) = stored[stored["kind"] == "termination"].itertuples()
    assert (oom.reason, oom.exit_code) == ("OOMKilled", 137)
    shutil.rmtree(tmp_path / "st")
    assert json.loads(src.read_text())["metadata"]["name"] == oom.pod
