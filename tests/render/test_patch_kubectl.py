"""Apply-ready Kubernetes output: kubectl set resources lines and strategic-merge patches."""

from __future__ import annotations

import copy
import json
import shlex

import kubernetes_validate
import yaml

from quotatune.model import ContainerKey, Current, Recommendation, units
from quotatune.render.patch.kubectl import (
    init_containers_from_specs,
    kinds_from_specs,
    render_kubectl_patch,
    render_strategic_merge_patch,
)
from quotatune.sources.kubernetes.parse import parse_pods
from tests.conftest import FIXTURES

FIX = FIXTURES / "kubernetes"


def rec(ns, wl, c, cpu=None, mem=None, mem_limit=None, cpu_limit=None, status="ok"):
    return Recommendation(ns, wl, c, cpu, cpu_limit, mem, mem_limit, Current(), "test", 2000,
                          336.0, "high", status, (), "kubernetes")


def test_set_resources_line_for_a_deployment_container():
    out = render_kubectl_patch([rec("shop", "web", "app", 250, 512, 640)])
    assert out == ("kubectl set resources deployment/web -n shop -c app "
                   "--requests=cpu=250m,memory=512Mi --limits=memory=640Mi\n")


def test_quantities_round_trip_exactly_through_the_kubernetes_parser():
    out = render_kubectl_patch([rec("shop", "web", "app", 1500, 3072, 4096, cpu_limit=2000)])
    args = shlex.split(out)
    req = dict(kv.split("=") for kv in args[-2].removeprefix("--requests=").split(","))
    lim = dict(kv.split("=") for kv in args[-1].removeprefix("--limits=").split(","))
    assert units.cpu_quantity_to_millicores(req["cpu"]) == 1500
    assert units.memory_quantity_to_mib(req["memory"]) == 3072 and req["memory"] == "3Gi"
    assert units.cpu_quantity_to_millicores(lim["cpu"]) == 2000 and lim["cpu"] == "2"
    assert units.memory_quantity_to_mib(lim["memory"]) == 4096


def test_kinds_come_from_the_collected_specs():
    specs, _ = parse_pods(json.loads((FIX / "newrelic_1_35_pods.json").read_text()))
    kinds = kinds_from_specs(specs)
    recs = [rec("scraper", "e2e-statefulset", "compute-pi-digits", 40, 30),
            rec("kube-system", "kindnet", "kindnet-cni", 100, 50),
            rec("scraper", "e2e-cronjob", "compute-pi-digits", 40, 30),
            rec("kube-system", "storage-provisioner", "storage-provisioner", 10, 20)]
    lines = render_kubectl_patch(recs, kinds).splitlines()
    assert ("kubectl set resources statefulset/e2e-statefulset -n scraper -c compute-pi-digits "
            "--requests=cpu=40m,memory=30Mi") in lines
    assert any(x.startswith("kubectl set resources daemonset/kindnet -n kube-system")
               for x in lines)
    assert any(x.startswith("# CronJob scraper/e2e-cronjob") for x in lines)
    assert any(x.startswith("# Pod kube-system/storage-provisioner") for x in lines)


def test_recommendations_without_values_are_comments_not_commands():
    out = render_kubectl_patch([rec("shop", "web", "app", status="insufficient-data")])
    assert out == "# shop/web/app: nothing to set (insufficient-data)\n"


def test_strategic_merge_patch_groups_containers_per_workload_and_puts_init_ones_apart():
    recs = [rec("shop", "web", "app", 250, 512, 640), rec("shop", "web", "migrate", 100, 128),
            rec("shop", "api", "api", 500, 1024, 1024)]
    out = render_strategic_merge_patch(recs, {}, {ContainerKey("shop", "web", "migrate")})
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert len(docs) == 2
    web = docs[1]["spec"]["template"]["spec"]
    assert web["containers"] == [{"name": "app", "resources": {
        "requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "640Mi"}}}]
    assert web["initContainers"][0]["name"] == "migrate"
    assert "# kubectl patch deployment web -n shop --type strategic" in out


def test_cronjob_patch_goes_through_the_job_template():
    out = render_strategic_merge_patch([rec("batch", "nightly", "job", 2000, 1024, 1024)],
                                       {("batch", "nightly"): "CronJob"})
    (doc,) = [d for d in yaml.safe_load_all(out) if d]
    containers = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert containers[0]["resources"]["requests"] == {"cpu": "2", "memory": "1Gi"}


def test_patch_merged_into_a_real_pod_template_is_a_valid_deployment():
    """Apply the patch the way the API server merges containers (by name) onto the pod
    template of a real captured pod, and check the result against the Deployment schema."""
    pod = json.loads((FIX / "kubeshark_worker_pod_lastState_OOMKilled.json").read_text())
    specs, _ = parse_pods(pod)
    recs = [rec("kubeshark", "kubeshark-worker-daemon-set", "kubeshark-worker", 120, 700, 900)]
    patch = next(d for d in yaml.safe_load_all(render_strategic_merge_patch(
        recs, kinds_from_specs(specs), init_containers_from_specs(specs))) if d)
    template = copy.deepcopy(pod["spec"])
    for c in patch["spec"]["template"]["spec"]["containers"]:
        target = next(x for x in template["containers"] if x["name"] == c["name"])
        target["resources"] = c["resources"]
    deployment = {"apiVersion": "apps/v1", "kind": "DaemonSet",
                  "metadata": {"name": "kubeshark-worker-daemon-set", "namespace": "kubeshark"},
                  "spec": {"selector": {"matchLabels": {"app": "kubeshark-worker"}},
                           "template": {"metadata": {"labels": {"app": "kubeshark-worker"}},
                                        "spec": template}}}
    kubernetes_validate.validate(deployment, "1.30.0", strict=False)
    res = template["containers"][0]["resources"]
    assert res == {"requests": {"cpu": "120m", "memory": "700Mi"}, "limits": {"memory": "900Mi"}}
    assert "# kubectl patch daemonset kubeshark-worker-daemon-set" in render_strategic_merge_patch(
        recs, kinds_from_specs(specs))
