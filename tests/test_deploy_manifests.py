"""deploy/: the manifests are valid Kubernetes objects (checked offline against the JSON
schemas bundled with kubernetes-validate) and the role can only read."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
READ_VERBS = {"get", "list", "watch"}


def documents() -> list[dict]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> list[dict]:
    return [d for d in documents() if d["kind"] == kind]


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_validates_against_the_kubernetes_schema(doc):
    # strict: unknown fields (typos) are errors too; the schemas ship inside the package
    kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_the_schema_check_really_rejects_a_broken_manifest():
    (cron,) = by_kind("CronJob")
    cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["resurces"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cron, "1.30.0", strict=True)


def test_cluster_role_grants_only_get_list_watch():
    (role,) = by_kind("ClusterRole")
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs == READ_VERBS
    assert all("*" not in rule.get("resources", []) + rule.get("apiGroups", [])
               for rule in role["rules"])
    assert not by_kind("Role") and all(k not in ("create", "update", "patch", "delete")
                                       for k in verbs)


def test_cluster_role_covers_everything_the_collector_reads():
    (role,) = by_kind("ClusterRole")
    granted = {(g, r) for rule in role["rules"] for g in rule["apiGroups"]
               for r in rule["resources"]}
    needed = {("", "pods"), ("", "nodes"), ("", "events"), ("", "namespaces"),
              ("", "nodes/proxy"), ("", "nodes/stats"), ("apps", "replicasets"),
              ("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"),
              ("batch", "jobs"), ("batch", "cronjobs"), ("metrics.k8s.io", "pods"),
              ("metrics.k8s.io", "nodes")}
    assert needed <= granted


def test_binding_gives_the_role_to_the_service_account_the_cronjob_runs_as():
    (binding,) = by_kind("ClusterRoleBinding")
    (sa,) = by_kind("ServiceAccount")
    (cron,) = by_kind("CronJob")
    (role,) = by_kind("ClusterRole")
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
