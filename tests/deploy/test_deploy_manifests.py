"""deploy/: the manifests are valid Kubernetes objects (checked offline against the JSON
schemas bundled with kubernetes-validate), the roles can only read, the default role does not
hand out the kubelet API (nodes/proxy), and together they grant every request the collector
makes — the requests recorded by the Kubernetes API stand-in (tests/support/k8s_standin.py; no
API server can run here) while the real collector runs against it.  kubernetes-validate has
no schemas for the Prometheus Operator's custom resources (ServiceMonitor, PrometheusRule):
their shape is checked here against the fields of the operator's monitoring.coreos.com/v1
API that they use."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from quotatune.sources.kubernetes.collector import collect_kubernetes
from quotatune.sources.kubernetes.nodes import collect_nodes
from tests.conftest import ROOT
from tests.support.k8s_standin import StandIn, client_for, honeycomb_cluster

DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus"
READ_VERBS = {"get", "list", "watch"}
MONITORING = "monitoring.coreos.com/v1"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
DEFAULT, KUBELET_PROXY = "rbac.yaml", "rbac-kubelet-proxy.yaml"


def documents(name: str = "*.yaml") -> list[dict]:
    docs = []
    extra = [RULES / "prometheusrule.yaml"] if name == "*.yaml" else []
    for path in [*sorted(DEPLOY.glob(name)), *extra]:
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str, name: str = "*.yaml") -> list[dict]:
    return [d for d in documents(name) if d["kind"] == kind]


def grants(role: dict) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples a ClusterRole grants."""
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
            for r in rule["resources"] for v in rule["verbs"]}


def _id(doc: dict) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("doc", [d for d in documents() if d["kind"] not in CRD_KINDS], ids=_id)
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


# --- quotatune serve: Deployment, Service, ServiceMonitor ----------------------------------

def _serve() -> tuple[dict, dict, dict]:
    (deploy,) = by_kind("Deployment")
    (service,) = by_kind("Service")
    (monitor,) = by_kind("ServiceMonitor")
    return deploy, service, monitor


def test_serve_runs_read_only_without_privileges_as_the_cronjob_service_account():
    deploy, _, _ = _serve()
    (cron,) = by_kind("CronJob")
    (sa,) = by_kind("ServiceAccount")
    pod = deploy["spec"]["template"]["spec"]
    cron_pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == cron_pod["serviceAccountName"] == sa["metadata"]["name"]
    assert deploy["metadata"]["namespace"] == sa["metadata"]["namespace"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (c,) = pod["containers"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    assert "memory" in c["resources"]["limits"]


def test_serve_reads_prometheus_listens_on_its_port_and_is_probed_on_healthz():
    deploy, _, _ = _serve()
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["quotatune"]
    assert c["args"] == ["serve", "--prometheus", "http://prometheus:9090",
                         "--listen", "0.0.0.0:9187", "--refresh", "1h"]
    (port,) = c["ports"]
    assert port == {"name": "metrics", "containerPort": 9187, "protocol": "TCP"}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    # /healthz is 503 until the first refresh succeeds: liveness waits for the startup probe,
    # which allows a slow first refresh half an hour.
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800


def test_service_selects_the_serve_pods_only_and_names_its_port_metrics():
    deploy, service, _ = _serve()
    (cron,) = by_kind("CronJob")
    selector = service["spec"]["selector"]
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    cron_labels = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert deploy["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert not selector.items() <= cron_labels.items()  # the nightly job is no endpoint
    (port,) = service["spec"]["ports"]
    assert port["name"] == "metrics" and port["targetPort"] == "metrics"
    assert service["metadata"]["namespace"] == deploy["metadata"]["namespace"]


# The fields of monitoring.coreos.com/v1 these objects may use (a typo is an unknown field, as
# with kubernetes-validate's strict mode), and the CRDs' duration pattern.
SERVICE_MONITOR_FIELDS = {
    "spec": {"selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels",
             "podTargetLabels", "sampleLimit"},
    "endpoint": {"port", "targetPort", "path", "scheme", "interval", "scrapeTimeout",
                 "honorLabels", "honorTimestamps", "relabelings", "metricRelabelings",
                 "tlsConfig", "bearerTokenSecret", "params"},
}
RULE_FIELDS = {
    "group": {"name", "interval", "rules", "limit", "partial_response_strategy"},
    "rule": {"record", "alert", "expr", "for", "labels", "annotations", "keep_firing_for"},
}
DURATION = re.compile(r"^(0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$")
SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _seconds(duration: str) -> float:
    return sum(int(n) * SECONDS[u] for n, u in re.findall(r"(\d+)(ms|[ywdhms])", duration))


def _object_problems(doc: dict) -> list[str]:
    problems = []
    if doc.get("apiVersion") != MONITORING:
        problems.append(f"apiVersion {doc.get('apiVersion')!r}")
    if set(doc) != {"apiVersion", "kind", "metadata", "spec"}:
        problems.append(f"top-level fields {sorted(doc)}")
    meta = doc.get("metadata", {})
    if not meta.get("name") or not meta.get("namespace"):
        problems.append("metadata needs name and namespace")
    return problems


def service_monitor_problems(doc: dict) -> list[str]:
    problems = _object_problems(doc)
    spec = doc.get("spec", {})
    problems += [f"spec.{k}: unknown field" for k in set(spec) - SERVICE_MONITOR_FIELDS["spec"]]
    if not spec.get("selector", {}).get("matchLabels"):
        problems.append("spec.selector.matchLabels is empty (would select every Service)")
    if not spec.get("endpoints"):
        problems.append("spec.endpoints is empty")
    for i, ep in enumerate(spec.get("endpoints", [])):
        problems += [f"endpoints[{i}].{k}: unknown field"
                     for k in set(ep) - SERVICE_MONITOR_FIELDS["endpoint"]]
        for k in ("interval", "scrapeTimeout"):
            if k in ep and not DURATION.match(str(ep[k])):
                problems.append(f"endpoints[{i}].{k}: not a duration: {ep[k]!r}")
        timing = [str(ep.get(k, "")) for k in ("scrapeTimeout", "interval")]
        if all(DURATION.match(t) and t for t in timing) and \
                _seconds(timing[0]) > _seconds(timing[1]):
            problems.append(f"endpoints[{i}]: scrapeTimeout longer than interval")
    return problems


def prometheus_rule_problems(doc: dict) -> list[str]:
    problems = _object_problems(doc)
    spec = doc.get("spec", {})
    if set(spec) != {"groups"}:
        problems.append(f"spec fields {sorted(spec)}")
    names = [g.get("name") for g in spec.get("groups", [])]
    if len(set(names)) != len(names) or not all(names):
        problems.append(f"group names must be unique and set: {names}")
    for g in spec.get("groups", []):
        problems += [f"{g.get('name')}.{k}: unknown field" for k in set(g) - RULE_FIELDS["group"]]
        if "interval" in g and not DURATION.match(str(g["interval"])):
            problems.append(f"{g['name']}.interval: not a duration")
        for r in g.get("rules", []):
            problems += [f"{g['name']}: rule field {k}: unknown"
                         for k in set(r) - RULE_FIELDS["rule"]]
            if ("record" in r) == ("alert" in r) or not str(r.get("expr", "")).strip():
                problems.append(f"{g['name']}: a rule needs one of record/alert, and an expr")
    return problems


def test_service_monitor_has_the_operator_shape_and_scrapes_metrics_of_the_service():
    _, service, monitor = _serve()
    assert service_monitor_problems(monitor) == []
    spec = monitor["spec"]
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": [service["metadata"]["namespace"]]}
    (ep,) = spec["endpoints"]
    assert ep["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert ep["path"] == "/metrics"


def test_prometheus_rule_has_the_operator_shape_and_the_groups_of_the_rule_files():
    (rule,) = by_kind("PrometheusRule")
    assert prometheus_rule_problems(rule) == []
    groups = []
    for name in ("quotatune-rules.yaml", "quotatune-alerts.yaml"):
        groups += yaml.safe_load((RULES / name).read_text())["groups"]
    # identical, so that the plain files and the operator's object cannot drift apart
    assert rule["spec"]["groups"] == groups
    assert {r.get("record") or r.get("alert") for g in groups for r in g["rules"]} >= {
        "namespace_pod_container:container_cpu_usage_seconds:rate5m",
        "QuotatuneMemoryLimitBelowRecommended"}


def test_the_custom_resource_checks_really_reject_typos():
    _, _, monitor = _serve()
    monitor["spec"]["endpoints"][0]["paht"] = "/metrics"
    monitor["spec"]["endpoints"][0]["interval"] = "1 minute"
    (rule,) = by_kind("PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["recrod"] = rule["spec"]["groups"][0]["rules"][0].pop(
        "record")
    assert len(service_monitor_problems(monitor)) == 2
    assert len(prometheus_rule_problems(rule)) == 2


def test_every_manifest_is_a_core_kind_or_a_checked_custom_resource():
    for doc in documents():
        if doc["kind"] in CRD_KINDS:
            continue
        assert "monitoring.coreos.com" not in doc["apiVersion"], _id(doc)
    assert {d["kind"] for d in documents()} >= CRD_KINDS
