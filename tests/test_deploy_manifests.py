"""deploy/: the manifests are valid Kubernetes objects (checked offline against the JSON
schemas bundled with kubernetes-validate), the roles can only read, the default role does not
hand out the kubelet API (nodes/proxy), and together they grant every request the collector
makes — the requests recorded by the Kubernetes API stand-in (tests/support/k8s_standin.py; no
API server can run here) while the real collector runs against it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from quotatune.collect.k8s_nodes import collect_nodes
from quotatune.collect.kubernetes import collect_kubernetes
from tests.support.k8s_standin import StandIn, client_for, honeycomb_cluster

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
READ_VERBS = {"get", "list", "watch"}
DEFAULT, KUBELET_PROXY = "rbac.yaml", "rbac-kubelet-proxy.yaml"


def documents(name: str = "*.yaml") -> list[dict]:
    docs = []
    for path in sorted(DEPLOY.glob(name)):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str, name: str = "*.yaml") -> list[dict]:
    return [d for d in documents(name) if d["kind"] == kind]


def grants(role: dict) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples a ClusterRole grants."""
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
            for r in rule["resources"] for v in rule["verbs"]}


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_validates_against_the_kubernetes_schema(doc):
    # strict: unknown fields (typos) are errors too; the schemas ship inside the package
    kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_the_schema_check_really_rejects_a_broken_manifest():
    (cron,) = by_kind("CronJob")
    cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["resurces"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cron, "1.30.0", strict=True)


def test_every_role_in_every_file_grants_only_reads():
    roles = by_kind("ClusterRole")
    assert len(roles) == 2 and not by_kind("Role")
    for role in roles:
        assert {v for rule in role["rules"] for v in rule["verbs"]} <= READ_VERBS
        assert all("*" not in rule["resources"] + rule["apiGroups"] + rule["verbs"]
                   for rule in role["rules"])


def test_the_default_role_does_not_grant_the_kubelet_api():
    (role,) = by_kind("ClusterRole", DEFAULT)
    resources = {r for _, r, _ in grants(role)}
    assert not any(r.startswith("nodes/") for r in resources)  # no proxy, stats, log, …


def test_the_opt_in_role_grants_get_on_nodes_proxy_and_nothing_else():
    (role,) = by_kind("ClusterRole", KUBELET_PROXY)
    assert grants(role) == {("", "nodes/proxy", "get")}
    assert not by_kind("ServiceAccount", KUBELET_PROXY)  # it extends rbac.yaml's account


def _attributes(path: str) -> tuple[str, str, str] | None:
    """(apiGroup, resource[/subresource], verb) the API server authorizes a GET of ``path``
    as; None for a non-resource URL such as /version."""
    parts = [p for p in urlsplit(path).path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) >= 3 else "")
    return group, resource, "get" if len(rest) >= 2 else "list"


def _requests_of_a_full_collection() -> list[str]:
    with StandIn(honeycomb_cluster()) as api:
        client = client_for(api.url)
        collect_kubernetes(client, sleep=lambda s: None)
        collect_kubernetes(client, namespace="mysql", sleep=lambda s: None)
        api.fault(r"/proxy/stats", "403")  # the metrics.k8s.io fallback, too
        collect_kubernetes(client, sleep=lambda s: None)
        collect_nodes(client)
        assert api.methods() == {"GET"}
        return api.paths()


def test_the_two_roles_grant_every_request_the_collector_makes():
    default = grants(*by_kind("ClusterRole", DEFAULT))
    opt_in = grants(*by_kind("ClusterRole", KUBELET_PROXY))
    needs = {path: _attributes(path) for path in _requests_of_a_full_collection()}
    assert {a for a in needs.values() if a} >= {
        ("", "pods", "list"), ("", "events", "list"), ("", "nodes", "list"),
        ("apps", "replicasets", "list"), ("batch", "jobs", "list"),
        ("metrics.k8s.io", "pods", "list"), ("", "nodes/proxy", "get")}
    for path, attrs in needs.items():
        assert attrs is None or attrs in default | opt_in, path
    # and the opt-in role is needed for the kubelet summaries alone
    beyond = {urlsplit(p).path.split("/", 5)[-1] for p, a in needs.items()
              if a and a not in default}
    assert beyond == {"proxy/stats/summary"}


def test_both_bindings_give_their_role_to_the_service_account_the_cronjob_runs_as():
    (sa,) = by_kind("ServiceAccount")
    (cron,) = by_kind("CronJob")
    for name in (DEFAULT, KUBELET_PROXY):
        (binding,) = by_kind("ClusterRoleBinding", name)
        (role,) = by_kind("ClusterRole", name)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                      "kind": "ClusterRole", "name": role["metadata"]["name"]}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                        "namespace": sa["metadata"]["namespace"]}]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    assert cron["metadata"]["namespace"] == sa["metadata"]["namespace"]


def test_cronjob_collects_then_reports_nightly_into_one_store():
    (cron,) = by_kind("CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"  # two nights never overlap
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (collect,) = pod["initContainers"]
    (report,) = pod["containers"]
    assert collect["command"][:3] == ["quotatune", "collect", "kubernetes"]
    assert report["command"][:3] == ["quotatune", "report", "--cron"]
    store = "/data/store"
    assert store in collect["command"] and store in report["command"]
    for c in (collect, report):
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert "memory" in c["resources"]["limits"]
