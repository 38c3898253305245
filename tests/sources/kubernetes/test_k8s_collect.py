"""The Kubernetes collector end to end: the real ``kubernetes`` client, configured from a
kubeconfig, against the recorded API stand-in (tests/support/k8s_standin.py; no API server can
run here), with paging, RBAC refusals, 5xx, slow, garbled and dropped answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from quotatune.model.errors import InputError
from quotatune.sources.kubernetes.api import connect
from quotatune.sources.kubernetes.collector import collect_kubernetes
from quotatune.sources.kubernetes.nodes import collect_nodes
from quotatune.store.history import Store
from tests.support.k8s_standin import (
    StandIn,
    client_for,
    honeycomb_cluster,
    kubeconfig,
    scaled_cluster,
)

NOW = pd.Timestamp("2020-09-16T03:31:00Z")
TOKEN = "kube-bearer-s3cr3t"


@pytest.fixture
def api() -> Iterator[StandIn]:
    with StandIn(honeycomb_cluster()) as standin:
        yield standin
    # Whatever a test did, quotatune never sent anything but GET.
    assert standin.methods() <= {"GET"}


@pytest.fixture
def client(api: StandIn, tmp_path: Path):
    return connect(str(kubeconfig(tmp_path / "kubeconfig", api.url, token=TOKEN)), None)


def collect(client, **kw):
    kw.setdefault("now", NOW)
    kw.setdefault("sleep", lambda s: None)  # retries back off without waiting in tests
    return collect_kubernetes(client, **kw)


def test_collects_specs_events_and_kubelet_usage_through_paged_lists(api, client):
    out = collect(client, page_size=4)
    assert out.specs["pod"].nunique() == 11 and len(out.specs) == 16
    php = out.specs[out.specs["container"] == "phpmyadmin"].iloc[0]
    assert (php.workload, php.workload_kind) == ("phpmyadmin", "Deployment")
    assert {"termination", "event", "oom-event", "scheduling"} <= set(out.events["kind"])
    # usage from duckboat-01's /stats/summary through the API server's node proxy
    node1 = out.usage[out.usage["node"] == "duckboat-01"]
    assert len(node1) == 12 and set(out.usage["platform"]) == {"kubernetes"}
    assert node1.set_index("container").loc["phpmyadmin", "cpu_cores"] == pytest.approx(
        0.01981685)
    # 11 pods in pages of 4: three requests, the 2nd and 3rd with the continue token
    pod_reqs = api.paths(r"^/api/v1/pods\?")
    assert len(pod_reqs) == 3 and all("limit=4" in p for p in pod_reqs)
    assert sum("continue=" in p for p in pod_reqs) == 2
    assert api.paths(r"/nodes/duckboat-01/proxy/stats")
    # duckboat-02 has no captured summary: reported, and the rest still collected
    assert any("duckboat-02" in e for e in out.errors)
    # every request carried the kubeconfig user's bearer token
    assert {a.lower() for a in api.authorization} == {f"bearer {TOKEN}".lower()}


def test_only_get_requests_are_ever_sent(api, client):
    api.fault(r"/stats", "500")  # drive the metrics.k8s.io fallback path too
    collect(client, page_size=3)
    collect(client, namespace="mysql")
    collect_nodes(client)
    assert api.methods() == {"GET"}
    assert len(api.requests) > 20


def test_standin_refuses_writes_so_a_mutating_call_would_show():
    import urllib.request

    with StandIn(honeycomb_cluster()) as api:
        req = urllib.request.Request(api.url + "/api/v1/namespaces/x/pods", data=b"{}",
                                     method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req)
        assert info.value.code == 405
        assert api.methods() == {"POST"}


def test_namespace_mode_uses_namespaced_paths_and_keeps_only_that_namespace(api, client):
    out = collect(client, namespace="mysql")
    assert set(out.specs["namespace"]) == {"mysql"} and set(out.usage["namespace"]) == {"mysql"}
    assert api.paths(r"^/api/v1/namespaces/mysql/pods")
    assert not api.paths(r"^/api/v1/pods")


def test_forbidden_pods_names_the_verb_and_resource_and_usage_still_comes(api, client):
    api.fault(r"^/api/v1/pods", "403")
    out = collect(client)
    assert "kubernetes: forbidden: need 'list' on 'pods' cluster-wide" in out.errors
    assert len(out.usage[out.usage["node"] == "duckboat-01"]) == 12
    assert len(api.paths(r"^/api/v1/pods")) == 1  # a refusal is not retried


def test_forbidden_in_a_namespace_says_which_namespace(api, client):
    api.fault(r"/namespaces/shop/events", "403")
    out = collect(client, namespace="shop")
    assert "kubernetes: forbidden: need 'list' on 'events' in namespace shop" in out.errors


def test_persistent_5xx_is_retried_a_bounded_number_of_times_then_falls_back(api, client):
    api.fault(r"/proxy/stats", "500")
    out = collect(client, retries=2)
    assert len(api.paths(r"duckboat-01/proxy/stats")) == 3  # 1 try + 2 retries
    assert any("duckboat-01 stats summary" in e and "failed after 3 tries: HTTP 500" in e
               for e in out.errors)
    # metrics.k8s.io answered instead (these captured PodMetrics come from a GKE cluster)
    assert api.paths(r"^/apis/metrics.k8s.io/v1beta1/pods")
    assert out.usage["pod"].nunique() == 10


def test_transient_5xx_slow_and_dropped_answers_are_retried_to_success(api, client):
    api.fault(r"^/api/v1/pods", "500", times=2)
    api.fault(r"^/apis/apps/v1/replicasets", "drop", times=1)
    api.fault(r"^/api/v1/events", "slow", times=1, delay=2.0)
    out = collect(client, timeout=0.5)
    assert not [e for e in out.errors if "duckboat-02" not in e]
    assert len(api.paths(r"^/api/v1/pods")) == 3
    assert len(api.paths(r"^/apis/apps/v1/replicasets")) == 2
    assert len(api.paths(r"^/api/v1/events")) == 2
    assert out.specs["pod"].nunique() == 11 and "BackOff" in set(out.events["reason"])


def test_always_slow_answer_times_out_and_is_reported(api, client):
    api.fault(r"^/api/v1/events", "slow", delay=1.5)
    out = collect(client, timeout=0.3, retries=1)
    assert any("list events" in e and "timed out" in e for e in out.errors)
    assert out.specs["pod"].nunique() == 11  # the rest still collected


def test_garbage_and_truncated_bodies_are_reported_not_crashed(api, client):
    api.fault(r"^/api/v1/pods", "garbage")
    api.fault(r"^/api/v1/nodes$|^/api/v1/nodes\?", "truncate")
    out = collect(client, retries=1)
    assert any("list pods" in e and "not JSON" in e for e in out.errors)
    assert any("list nodes" in e and "not JSON" in e for e in out.errors)


def test_a_failing_later_page_keeps_the_pages_already_read(api, client):
    api.fault(r"^/api/v1/pods\?.*continue=", "500")
    out = collect(client, page_size=4, retries=1)
    assert out.specs["pod"].nunique() == 4
    assert any("kept 4 pods read before the failure" in e for e in out.errors)


def test_an_expired_continue_token_is_reported(api, client):
    from quotatune.model.errors import SourceError
    from quotatune.sources.kubernetes.api import Access, K8sReader

    reader = K8sReader(client)
    with pytest.raises(SourceError, match="continue token expired"):
        reader.fetch("/api/v1/pods", Access("list", "pods"),
                     {"limit": 2, "continue": "not-a-token"})


def test_credentials_never_appear_in_errors_or_notes(api, client):
    for path, kind in [(r"^/api/v1/pods", "403"), (r"/proxy/stats", "500"),
                       (r"^/api/v1/events", "garbage"), (r"metrics", "drop")]:
        api.fault(path, kind)
    out = collect(client, retries=1)
    text = "\n".join(out.errors + out.notes)
    assert len(out.errors) >= 3 and TOKEN not in text


def test_repeated_runs_append_to_the_store_without_duplicates(api, client, tmp_path):
    store = Store(tmp_path / "store")
    first = store.append(collect(client))
    again = store.append(collect(client))
    assert first.samples_added == 12 + 18  # duckboat-01 summary + metrics.k8s.io containers
    assert again.samples_added == 0 and again.samples_duplicate == first.samples_added
    assert len(store.read_usage()) == first.samples_added


def test_nodes_for_capacity_planning(api, client):
    nodes = collect_nodes(client)
    assert sorted(nodes["node"]) == ["duckboat-01", "duckboat-02"]
    assert nodes["cpu_allocatable_cores"].tolist() == pytest.approx([7.91, 7.91])


def test_connect_rejects_unknown_context_and_unreachable_cluster(tmp_path):
    kc = kubeconfig(tmp_path / "kc", "http://127.0.0.1:9")
    with pytest.raises(InputError, match="unknown Kubernetes context 'prod'"):
        connect(str(kc), "prod")
    with pytest.raises(InputError, match=r"cannot reach the Kubernetes API at http://127\.0\.0\.1"):
        connect(str(kc), None, timeout=2)
    with pytest.raises(InputError, match="cannot load the Kubernetes configuration"):
        connect(str(tmp_path / "missing"), None)


def test_thousands_of_pods_templated_from_real_ones_are_paged_through():
    with StandIn(scaled_cluster(2000, n_nodes=6)) as api:
        out = collect(client_for(api.url), page_size=500)
        assert out.specs["pod"].nunique() == 2000
        assert len(api.paths(r"^/api/v1/pods\?")) == 4
        assert out.usage["pod"].nunique() == sum(
            len(s["pods"]) for s in api.cluster.summaries.values())
        assert not out.errors
        assert api.methods() == {"GET"}


def test_garbled_objects_from_the_api_are_reported_never_raised():
    """Real pods with fields replaced by arbitrary JSON, served by the stand-in: the collector
    records what it could not read and returns the rest; it never raises."""
    import copy
    import random

    from tests.support.k8s_standin import load

    rng = random.Random(7)
    junk = [None, 7, -1.5, "x", "", [], {}, [1, "a"], {"k": {"j": []}}, True, "1Gi",
            {"name": 3}]
    pods = load("honeycomb_pods.json")["items"]
    for round_ in range(12):
        cluster = honeycomb_cluster()
        cluster.pods = copy.deepcopy(pods)
        must_keep = set()
        for pod in cluster.pods:  # garble one random field of each pod
            node, path = pod, []
            while isinstance(node, dict) and node:
                path.append(rng.choice(sorted(node)))
                if not isinstance(node[path[-1]], dict) or rng.random() < 0.3:
                    break
                node = node[path[-1]]
            if path:
                name = pod["metadata"]["name"]
                node[path[-1]] = rng.choice(junk)
                if path[:2] not in (["spec"], ["spec", "containers"], ["metadata"],
                                    ["metadata", "name"]):
                    must_keep.add(name)  # a field the pod's spec rows do not depend on
        summary = cluster.summaries["duckboat-01"]
        summary["pods"][round_ % len(summary["pods"])]["containers"] = rng.choice(junk)
        with StandIn(cluster) as api:
            out = collect(client_for(api.url), retries=0)
        bad = "\n".join(e for e in out.errors if e.startswith("kubernetes: pods: "))
        # an unreadable pod is an error line naming it; every other pod is kept
        kept = set(out.specs["pod"])
        assert all(name in kept or name in bad for name in must_keep)
        assert all("\n" not in e for e in out.errors)


def test_in_cluster_config_uses_the_service_account_token_over_tls(tmp_path):
    """The CronJob's path: no kubeconfig, the pod's service account token and CA, the API
    address from KUBERNETES_SERVICE_HOST/PORT; the stand-in serves HTTPS like the API server."""
    import shutil

    from tests.support.k8s_standin import self_signed_cert

    cert, key = self_signed_cert(tmp_path)
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text("sa-token-s3cr3t")
    shutil.copy(cert, sa / "ca.crt")
    with StandIn(honeycomb_cluster(), tls=(cert, key)) as api:
        port = api.url.rsplit(":", 1)[1]
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
        client = connect(in_cluster=True, service_account_dir=str(sa), environ=env)
        out = collect(client)
        assert out.specs["pod"].nunique() == 11 and len(out.usage) > 0
        assert {a.lower() for a in api.authorization} == {"bearer sa-token-s3cr3t"}
        assert "sa-token-s3cr3t" not in "\n".join(out.errors + out.notes)
        assert api.methods() == {"GET"}
    with pytest.raises(InputError, match="cannot load the Kubernetes configuration"):
        connect(in_cluster=True, service_account_dir=str(sa), environ={})
